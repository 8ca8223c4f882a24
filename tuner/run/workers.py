"""Local worker processes: `tuner start --workers N` trains in its own process and runs N-1 `tuner worker`
processes beside it on the same study.

Each worker is a separate Python process (`python -m tuner worker NAME`), so TensorFlow, its threads and its
memory are per worker; the `start` process, whose imports and data are already loaded, is the first worker. The
storage URL travels in the environment (TUNER_STORAGE), never on a command line that `ps` would show. The
machine's cores are divided between the workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from tuner.store import mask
from tuner.backend import THREADS_VAR

WORKER_VAR = "TUNER_WORKER_INDEX"  # which local worker this is (offsets its sampler seed)


def label() -> str:
    """Who runs this process's trials, as each trial records it (tuner.record.WORKER): host and process id."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    cores = cores or os.cpu_count() or 1
    return max(1, cores // workers)


def worker_command(name: str, *, trials: int | None, timeout: float | None, seed: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "tuner", "worker", name, "--quiet"]
    if trials is not None:
        cmd += ["--trials", str(trials)]
    if timeout is not None:
        cmd += ["--timeout", str(timeout)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    return cmd


@dataclass
class Worker:
    """One local worker process and the file its stderr goes to (a file, not a pipe: it can never block)."""

    proc: subprocess.Popen
    log: IO[str]

    def go(self) -> None:
        """Let a worker started with `--go-on-stdin` join the study (it has imported everything meanwhile)."""
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.write("go\n")
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):  # it has exited already: wait() reports how
                pass

    def last_line(self) -> str:
        self.log.seek(0)
        lines = [line for line in self.log.read().splitlines() if line.strip()]
        return lines[-1] if lines else "no message"


def spawn(name: str, workers: int, *, url: str, trials: int | None, timeout: float | None,
          seed: int | None, data_dir: str | None = None, held: bool = False) -> list[Worker]:
    """Start the other `workers - 1` local worker processes on study `name` in the store at `url`: the caller is
    worker 0 and trains too. Each worker's number offsets its sampler seed; the cores are divided by `workers`.

    `held`: the workers import Python's and TensorFlow's modules, then wait for `Worker.go()` before they touch
    the study, so they can start before the study is checked and created."""
    started = []
    threads = threads_per_worker(workers)
    for index in range(1, workers):
        env = {**os.environ, "TUNER_STORAGE": url, THREADS_VAR: str(threads), WORKER_VAR: str(index),
               "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        cmd = worker_command(name, trials=trials, timeout=timeout, seed=seed)
        if data_dir is not None:
            cmd += ["--data-dir", data_dir]
        if held:
            cmd += ["--go-on-stdin"]
        log = tempfile.TemporaryFile("w+")
        started.append(Worker(subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE if held else subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=log, text=True), log))
    return started


def wait(workers: list[Worker], on_tick: Callable[[], None] = lambda: None, every: float = 0.1) -> list[str]:
    """Wait for every worker, calling `on_tick` in between; the failed workers' last error lines."""
    while any(w.proc.poll() is None for w in workers):
        time.sleep(every)
        on_tick()
    return [f"worker {index} exited with {w.proc.returncode}: {mask(w.last_line())}"
            for index, w in enumerate(workers, 1) if w.proc.returncode != 0]


def stop(workers: list[Worker], grace: float = 5) -> None:
    """Interrupt the workers (their running trials are recorded as interrupted and redone on resume).

    A Ctrl-C in the terminal reaches the workers too, so they get `grace` seconds before their own SIGINT.
    """
    deadline = time.monotonic() + grace
    while any(w.proc.poll() is None for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    for w in workers:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGINT)
    for w in workers:
        try:
            w.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.proc.kill()
