"""One worker of a study on a Ray cluster: the loop `tuner worker` runs, in the process of a Ray actor.

tuner.run.cluster makes this class an actor (`ray.remote(RayWorker)`) with the study file's resources. Its process
runs in the study folder Ray shipped (the runtime environment's working_dir), so the study's data and model files are
found there. The actor runs two calls at once: `run` trains, `stop` asks the running trial to end at its next
epoch's end (it is recorded as interrupted and redone, as on Ctrl-C). Nothing here imports Ray at module level.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from typing import Any

from tuner import interrupt
from tuner.backend import limit_gpu_memory, limit_threads
from tuner.errors import TunerError


class RayWorker:
    """A study's worker in a Ray actor: `index` offsets its sampler seed; `cpus` and `gpus` are what Ray gave it."""

    def __init__(self, index: int, cpus: float, gpus: float) -> None:
        import optuna
        import ray

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        self.index = index
        self.node = ray.get_runtime_context().get_node_id()
        self.label = f"ray:{self.node}:{os.getpid()}"
        self.stopping = threading.Event()
        self.cpus, self.gpus = cpus, gpus
        self.gpu_ids = [str(gpu) for gpu in ray.get_gpu_ids()]
        self.gpu = limit_gpu_memory(gpus) if gpus else None  # before any TensorFlow op
        limit_threads(max(1, round(cpus)))

    def placement(self) -> dict[str, Any]:
        """Where this worker runs and what it was given: node, process, CPUs, GPU ids and its GPU memory share."""
        return {"index": self.index, "worker": self.label, "node": self.node, "pid": os.getpid(), "cpus": self.cpus,
                "gpus": self.gpus, "gpu_ids": self.gpu_ids, "gpu": self.gpu}

    def run(self, name: str, url: str, trials: int | None, deadline: float | None, seed: int | None) -> dict[str, Any]:
        """Join study `name` in the store at `url` and run its trials until the study's budget (`trials`) is used
        up or the wall-clock `deadline` (seconds since the epoch) passes. A mistake the user can fix comes back as
        {"error": message}; a stop as {"stopped": True}."""
        from tuner.run.session import join_session

        if self.stopping.is_set():
            return {"stopped": True}
        try:
            session = join_session(name, storage=url, data_dir=os.getcwd(), seed=seed, worker=self.index)
            session.worker = self.label
            if self.stopping.is_set():
                return {"stopped": True}
            timeout = None if deadline is None else max(0.0, deadline - time.time())
            session.run(trials, timeout, on_trial=self._after_trial)
        except KeyboardInterrupt:
            return {"stopped": True}
        except TunerError as exc:
            return {"error": str(exc)}
        return {"done": True}

    def stop(self) -> None:
        """End the running trial at its next epoch's end (recorded as interrupted) and start no other."""
        self.stopping.set()
        interrupt.request()

    def _after_trial(self, _study: Any) -> None:
        if self.stopping.is_set():
            raise KeyboardInterrupt
