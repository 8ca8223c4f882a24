"""Workers on a Ray cluster: `tuner start STUDY --ray ADDRESS --workers N` (and `tuner.start(..., ray=ADDRESS)`).

The launching process checks everything first (Ray installed, a database server every node can reach, the
resources the study asks for present in the cluster), connects with the study folder as the job's runtime
environment (`working_dir`: the study file, its data and model files travel to every node), then starts N actors
(tuner.run.remote.RayWorker), each running the loop `tuner worker` runs, on the study's store. It trains nothing
itself: it shows the study's progress and returns when every worker is done.

Faults: a worker whose process or node dies is restarted by Ray (`max_restarts`) and its run is retried
(`max_task_retries`); the trial it was running is failed by the heartbeat, like a killed local worker's, and redone.
The budget stays exact because every worker counts it under the study's budget lock. Ctrl-C asks each worker to end
its running trial at the next epoch (recorded as interrupted), then kills what is left: no actor outlives the run.
Ray is imported only here and in tuner.run.remote, inside functions: tuner works without it.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import StorageError, TunerError, first_line
from tuner.run.remote import RayWorker
from tuner.spec import ResourcesSpec
from tuner.store import internals, mask, of

if TYPE_CHECKING:
    import optuna

INSTALL = "pip install 'tuner[ray]'"
SERVERS = ("postgresql", "mysql", "mariadb")  # stores every node can reach
RESTARTS = 3  # times Ray restarts one worker whose process or node died (its run is retried on each)
STOP_GRACE = 20.0  # seconds the workers get to end their running trials after Ctrl-C before they are killed
POLL = 0.5  # seconds between two looks at the workers (and the progress display)
# Never shipped to the nodes: stores, caches and environments that may sit beside a study file.
EXCLUDES = [".git", "**/__pycache__", "*.pyc", "*.db", "*.db-wal", "*.db-shm", "*.db-journal", "*.budget.lock",
            "*.sqlite", "*.sqlite3", "artifacts", ".venv", "venv", "node_modules", ".ipynb_checkpoints", "*.log"]
PASSED = ("TF_CPP_MIN_LOG_LEVEL",)  # environment variables the workers get as the launcher has them, with TUNER_*
KEPT_BACK = ("TUNER_STORAGE",)  # the URL goes to each worker as an argument, never into the job's description


def ray_module() -> Any:
    """Ray, or a one-line TunerError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise TunerError(f"--ray needs Ray, which is not installed here; install it with {INSTALL}") from None
    return ray


def check_store(url: str) -> None:
    """Workers on other machines need a database server; a SQLite file is refused before anything is written."""
    if url.split(":", 1)[0].split("+", 1)[0] not in SERVERS:
        kind = "a SQLite file on this machine" if url.startswith("sqlite") else "not a database server"
        raise StorageError(f"--ray needs a store every node can reach (PostgreSQL or MariaDB/MySQL), but {mask(url)} "
                           f"is {kind}; pass --storage postgresql+psycopg://USER@HOST/DB or set TUNER_STORAGE")


def worker_env() -> dict[str, str]:
    """What the workers' processes get from the launcher's environment: tuner's settings (heartbeats, waits)."""
    env = {k: v for k, v in os.environ.items() if (k.startswith("TUNER_") or k in PASSED) and k not in KEPT_BACK}
    return {"TF_CPP_MIN_LOG_LEVEL": "3", **env}


@dataclass
class RayCluster:
    """A connection to a Ray cluster for one run of a study; `connect` checks, `run` runs, `close` cleans up."""

    address: str
    folder: Path
    resources: ResourcesSpec
    workers: int
    actors: list[Any] = field(default_factory=list)

    @classmethod
    def connect(cls, address: str, folder: Path, resources: ResourcesSpec, url: str,
                workers: int | None = None) -> RayCluster:
        """Check Ray, the store and the cluster's resources, connect with `folder` as the working_dir and start the
        workers' actors (`workers` None: as many as the cluster holds now); nothing touches the store yet."""
        check_store(url)
        ray = ray_module()
        if ray.is_initialized():
            raise TunerError("Ray is already connected in this process; call ray.shutdown() first (tuner connects "
                             "itself, to ship the study folder to the nodes)")
        try:
            ray.init(address=address, runtime_env={"working_dir": str(folder), "excludes": EXCLUDES,
                                                   "env_vars": worker_env()},
                     logging_level=logging.WARNING, log_to_driver=True)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            ray.shutdown()
            raise TunerError(f"--ray {address}: cannot connect or ship {folder} ({first_line(exc)}); start a cluster "
                             f"with `ray start --head` (then --ray auto), or pass its address, e.g. HOST:6379 or "
                             f"ray://HOST:10001") from None
        try:
            nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
            fit = fits(nodes, resources)
            _check_resources(address, nodes, resources, fit)
            cluster = cls(address, folder, resources, workers or max(1, fit))
            cluster._start_workers()
        except BaseException:
            ray.shutdown()
            raise
        return cluster

    def _start_workers(self) -> None:
        """The actors, started now: their processes import TensorFlow while this one opens the study, and they
        touch the study only once `run` is called."""
        import ray

        actor = ray.remote(RayWorker).options(num_cpus=self.resources.cpus, num_gpus=self.resources.gpus,
                                              max_restarts=RESTARTS, max_task_retries=-1, max_concurrency=2)
        self.actors = [actor.remote(i, self.resources.cpus, self.resources.gpus) for i in range(self.workers)]

    def describe(self) -> str:
        import ray

        total = ray.cluster_resources()
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        gpus = f" and {self.resources.gpus:g} GPU" if self.resources.gpus else ""
        address = ray.get_runtime_context().gcs_address or self.address
        return (f"Ray cluster {address}: {_count(nodes, 'node')}, {_count(total.get('CPU', 0), 'CPU')}, "
                f"{_count(total.get('GPU', 0), 'GPU')}; {_count(self.workers, 'worker')} of "
                f"{_count(self.resources.cpus, 'CPU')}{gpus} each, {self.folder} shipped")

    def run(self, study: optuna.Study, url: str, trials: int | None, timeout: float | None, seed: int | None = None,
            on_tick: Callable[[], None] = lambda: None, say: Callable[[str], None] = lambda line: None) -> None:
        """Set the workers on `study` (in the store at `url`) and wait for all of them, calling `on_tick` in
        between and `say` with a line for each worker once it is placed. A worker's error is raised as one
        TunerError once all are done; Ctrl-C (or any error here) stops every worker before it propagates. `study`
        shows every worker's trials afterwards."""
        import ray

        name = study.study_name
        deadline = None if timeout is None else time.time() + timeout
        runs = {a.run.remote(name, url, trials, deadline, seed): i for i, a in enumerate(self.actors)}
        places = {a.placement.remote(): i for i, a in enumerate(self.actors)}
        errors: list[str] = []
        try:
            while runs:
                ready, _ = ray.wait([*runs, *places], num_returns=len(runs) + len(places), timeout=POLL)
                for ref in ready:
                    if ref in places:
                        index = places.pop(ref)
                        try:
                            say(placement_line(ray.get(ref)))
                        except ray.exceptions.RayError:  # it died before it was placed: its run says why
                            pass
                        continue
                    index = runs.pop(ref)
                    problem = _outcome(ray, ref)
                    if problem:
                        errors.append(f"worker {index}: {problem}")
                    ray.kill(self.actors[index], no_restart=True)  # its resources go back to the cluster
                on_tick()
        except BaseException:
            self.stop(list(runs))
            raise
        finally:
            of(internals.storage_of(study)).expire(internals.study_id(study))  # what this process shows: every worker's trials, now
        if errors:
            raise TunerError("; ".join(dict.fromkeys(errors)))

    def stop(self, runs: list[Any], grace: float = STOP_GRACE) -> None:
        """Ask every worker to end its running trial, wait up to `grace` seconds for their runs, then kill them all
        (a second Ctrl-C kills them at once)."""
        import ray

        try:
            for a in self.actors:
                a.stop.remote()
            if runs:
                ray.wait(runs, num_returns=len(runs), timeout=grace)
        finally:
            for a in self.actors:
                ray.kill(a, no_restart=True)

    def close(self) -> None:
        """Kill any worker left and disconnect."""
        import ray

        if not ray.is_initialized():
            return
        for a in self.actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        ray.shutdown()


def fits(nodes: list[dict[str, float]], resources: ResourcesSpec) -> int:
    """How many workers asking for `resources` the cluster's nodes (each node's resources) hold at once."""
    total = 0
    for node in nodes:
        by_cpu = math.floor(node.get("CPU", 0) / resources.cpus + 1e-9)
        by_gpu = math.floor(node.get("GPU", 0) / resources.gpus + 1e-9) if resources.gpus else by_cpu
        total += min(by_cpu, by_gpu)
    return total


def _count(n: float, what: str) -> str:
    return f"{n:g} {what}{'' if n == 1 else 's'}"


def placement_line(place: dict[str, Any]) -> str:
    gpu = f", {place['gpu']}" if place.get("gpu") else ""
    return (f"worker {place['index']}: node {place['node'][:12]}, pid {place['pid']}, {place['cpus']:g} CPU"
            f"{gpu}")


def _check_resources(address: str, nodes: list[dict[str, float]], resources: ResourcesSpec, fit: int) -> None:
    cpus = sum(node.get("CPU", 0) for node in nodes)
    gpus = sum(node.get("GPU", 0) for node in nodes)
    where = f"the Ray cluster at {address} ({len(nodes)} nodes, {cpus:g} CPUs, {gpus:g} GPUs)"
    if resources.gpus and not gpus:
        raise TunerError(f"resources.gpus: {resources.gpus:g} asks for a GPU, but {where} has none; set "
                         f"resources.gpus: 0 in the study file, or add GPU nodes")
    if fit < 1:
        raise TunerError(f"resources: no node of {where} has {resources.cpus:g} CPUs and {resources.gpus:g} GPUs "
                         f"for one worker; ask for less in the study file's resources")


def _outcome(ray: Any, ref: Any) -> str | None:
    """What went wrong with a worker's run, or None."""
    try:
        result = ray.get(ref)
    except ray.exceptions.RayError as exc:  # died more than RESTARTS times, or our own bug on a node
        return first_line(exc)
    return result.get("error")


def connect_for(study: str | Path | dict[str, Any], *, address: str, storage: str | None, workers: int | None,
                base_dir: str | Path | None = None) -> RayCluster:
    """`RayCluster.connect` for a study file's name or path (its folder is shipped) or a definition as a dict (the
    folder its relative paths start at, `base_dir`, default the working folder, is shipped)."""
    from tuner.spec import load_spec, parse_spec
    from tuner.spec.files import find_study_file
    from tuner.store import default_url

    if isinstance(study, dict):
        spec, folder = parse_spec(study, "study"), Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        path = find_study_file(str(study))
        spec, folder = load_spec(path), path.parent
    return RayCluster.connect(address, folder.resolve(), spec.resources, storage or default_url(), workers)
