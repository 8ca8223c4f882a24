"""Workers on a Ray cluster: three Ray nodes on this machine (ray.cluster_utils.Cluster, as Ray's own tests run a
cluster) and the real PostgreSQL, each test in its own database. An exact budget over several nodes, a node removed
mid-study, Ctrl-C of the launcher, four workers sharing one GPU; and the checks that refuse a run before anything is
written."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.storages import RetryFailedTrialCallback
from optuna.trial import TrialState

from tests.test_postgres import ROOT, assert_finished_exactly, env, pg_url, trials_of  # noqa: F401 (fixture)
from tuner import record

FAST = {"TUNER_HEARTBEAT_INTERVAL": "1", "TUNER_GRACE_PERIOD": "3"}  # a dead node's trial is failed within seconds
QUICK = {"training": {"epochs": 1}}
# seconds per trial (the fast training path runs ~70 epochs a second here): time to catch two workers mid-trial
LONG = {"data": {"bundled": "digits"}, "training": {"epochs": 400, "batch_size": 8}, "warm_start": False,
        "refit": False}
# the cluster's health checks, fast: a removed node is seen dead in about 3 s (Ray's own tests set the same keys)
HEALTH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 1000, "health_check_timeout_ms": 1000,
          "health_check_failure_threshold": 3}


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """Three Ray nodes of one CPU each; the head also declares one GPU (this machine has none: Ray places by what
    a node declares), shared by the tests of this module."""
    from ray.cluster_utils import Cluster

    made = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 1, "_system_config": HEALTH})
    for _ in range(2):
        made.add_node(num_cpus=1)
    made.wait_for_nodes()
    try:
        yield made
    finally:
        made.shutdown()


def node_of(trial: optuna.trial.FrozenTrial) -> str:
    kind, node, pid = trial.user_attrs[record.WORKER].split(":")
    assert kind == "ray" and pid.isdigit()
    return node


def alive_workers(cluster) -> list:
    """The cluster's live tuner workers (Ray actors), as Ray's state API lists them."""
    from ray.util.state import list_actors

    return list_actors(address=cluster.address, filters=[("class_name", "=", "RayWorker"), ("state", "!=", "DEAD")],
                       limit=1000)


def restarted_workers(cluster) -> int:
    from ray.util.state import list_actors

    return sum(actor.num_restarts > 0 for actor in list_actors(
        address=cluster.address, filters=[("class_name", "=", "RayWorker")], detail=True, limit=1000))


def worker_processes() -> list[str]:
    found = subprocess.run(["pgrep", "-af", "ray::RayWorker"], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


def launch(study: Path, url: str, address: str, *args: str) -> subprocess.Popen:
    """`tuner start STUDY --ray ADDRESS` as a user runs it, in its own process."""
    return subprocess.Popen([sys.executable, "-m", "tuner", "start", str(study), "--ray", address, *args],
                            env=env(url, **FAST), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def training(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    """Running trials whose parameters are sampled and whose worker is recorded (both written before training)."""
    if name not in optuna.get_all_study_names(storage=url):  # the launcher has not created it yet
        return []
    return [t for t in trials_of(url, name) if t.state == TrialState.RUNNING and record.SEED in t.user_attrs
            and record.WORKER in t.user_attrs]


def wait_training(proc: subprocess.Popen, url: str, name: str, count: int) -> list[optuna.trial.FrozenTrial]:
    deadline = time.monotonic() + 180
    while len(running := training(url, name)) < count:
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the workers never got to training"
        time.sleep(0.3)
    return running


@pytest.mark.postgres
@pytest.mark.slow
def test_exact_budget_over_several_nodes(cluster, pg_url: str, write_study, monkeypatch) -> None:
    import tuner

    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    study = write_study("tiny", QUICK)
    result = tuner.start(study, storage=pg_url, trials=6, ray=cluster.address, workers=3)
    trials = trials_of(pg_url, "tiny")
    assert_finished_exactly(trials, 6)
    assert all(t.state == TrialState.COMPLETE for t in trials) and result.best is not None
    nodes = {node_of(t) for t in trials}
    assert len(nodes) >= 2 and nodes <= {n.node_id for n in cluster.list_all_nodes()}
    assert alive_workers(cluster) == []


@pytest.mark.postgres
@pytest.mark.slow
def test_a_node_removed_mid_study_loses_nothing(cluster, pg_url: str, write_study) -> None:
    study = write_study("long", LONG)
    head = cluster.head_node.node_id
    proc = launch(study, pg_url, cluster.address, "--workers", "2", "--trials", "4")
    running = wait_training(proc, pg_url, "long", 2)
    victim = next(t for t in running if node_of(t) != head)  # two workers of one CPU: at most one on the head
    node = next(n for n in cluster.list_all_nodes() if n.node_id == node_of(victim))
    cluster.remove_node(node, allow_graceful=False)  # its raylet and worker processes are killed
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        cluster.add_node(num_cpus=1)  # three nodes again for the other tests
        cluster.wait_for_nodes()
    assert proc.returncode == 0, out[-3000:]
    trials = trials_of(pg_url, "long")
    assert_finished_exactly(trials, 4)
    lost = trials[victim.number]
    assert lost.state == TrialState.FAIL and record.FAIL_REASON not in lost.user_attrs  # failed by the heartbeat
    retried = [t for t in trials if RetryFailedTrialCallback.retried_trial_number(t) == victim.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE and retried[0].params == lost.params
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4
    assert alive_workers(cluster) == [] and worker_processes() == []
    assert restarted_workers(cluster) == 1  # Ray started the lost worker again on a node that was left


@pytest.mark.postgres
@pytest.mark.slow
def test_ctrl_c_stops_every_worker(cluster, pg_url: str, write_study) -> None:
    study = write_study("long", LONG)
    proc = launch(study, pg_url, cluster.address, "--workers", "2", "--trials", "6")
    wait_training(proc, pg_url, "long", 2)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 130, out[-3000:]
    assert "interrupted" in out and "Traceback" not in out
    assert alive_workers(cluster) == [] and worker_processes() == []
    trials = trials_of(pg_url, "long")
    assert not any(t.state == TrialState.RUNNING for t in trials)  # each running trial ended as interrupted
    stopped = [t for t in trials if t.user_attrs.get(record.FAIL_REASON) == record.INTERRUPTED]
    assert 1 <= len(stopped) <= 2 and all(t.state == TrialState.FAIL for t in stopped)  # one may have just ended


@pytest.mark.postgres
@pytest.mark.slow
def test_four_workers_share_one_gpu(cluster, pg_url: str, write_study) -> None:
    study = write_study("shared", {**QUICK, "resources": {"cpus": 0.25, "gpus": 0.25}})
    proc = launch(study, pg_url, cluster.address, "--workers", "4", "--trials", "4")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    placed = re.findall(r"worker (\d): node (\w+), pid (\d+), 0.25 CPU, 0.25 of GPU (\d+): (.*)", out)
    assert len(placed) == 4, out[-3000:]
    head = cluster.head_node.node_id
    assert {node for _, node, _, _, _ in placed} == {head[:12]}  # the one node with a GPU holds all four
    assert len({pid for _, _, pid, _, _ in placed}) == 4 and {gpu for *_, gpu, _ in placed} == {"0"}
    # each worker set its share up before TensorFlow ran an op; no GPU here, so it says what it could not limit
    assert {note for *_, note in placed} == {"TensorFlow sees no GPU here, memory not limited"}
    trials = trials_of(pg_url, "shared")
    assert_finished_exactly(trials, 4)
    assert {node_of(t) for t in trials} == {head}


@pytest.mark.postgres
@pytest.mark.slow
def test_more_gpus_than_any_node_has_are_refused_before_anything_is_written(cluster, pg_url: str,
                                                                            write_study) -> None:
    study = write_study("greedy", {**QUICK, "resources": {"gpus": 2}})
    proc = launch(study, pg_url, cluster.address, "--workers", "1")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "no node of the Ray cluster" in out and "Traceback" not in out
    assert optuna.get_all_study_names(storage=pg_url) == []


@pytest.mark.slow
def test_a_gpu_study_without_a_gpu_here_is_refused(cli, write_study, workdir: Path) -> None:
    write_study("gpu", {**QUICK, "resources": {"gpus": 0.5}})
    result = cli("start", "gpu")
    assert result.exit_code == 2 and "TensorFlow sees none on this machine" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (workdir / "tuner.db").exists()


def test_the_cluster_check_counts_gpus_and_workers() -> None:
    from tuner.errors import TunerError
    from tuner.run.cluster import _check_resources, fits
    from tuner.spec import ResourcesSpec

    cpu_only = [{"CPU": 8.0}, {"CPU": 4.0}]
    quarter = ResourcesSpec(cpus=1, gpus=0.25)
    assert fits(cpu_only, ResourcesSpec(cpus=3)) == 3 and fits([{"CPU": 16.0, "GPU": 1.0}], quarter) == 4
    with pytest.raises(TunerError, match="asks for a GPU, but the Ray cluster at x .* has none"):
        _check_resources("x", cpu_only, quarter, fits(cpu_only, quarter))


def test_gpu_memory_share() -> None:
    from tuner.backend import memory_limit_mib

    assert memory_limit_mib(0.25, 143_771) == 35_942  # an H200's memory in quarters
    assert memory_limit_mib(0.5, 81_559) == 40_779


def test_sqlite_is_refused_with_one_line(cli, write_study, workdir: Path) -> None:
    write_study("tiny", QUICK)
    result = cli("start", "tiny", "--ray", "auto", "--workers", "2")
    assert result.exit_code == 2 and "--ray needs a store every node can reach" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (workdir / "tuner.db").exists()


@pytest.mark.postgres
def test_without_ray_installed_it_says_how_to_install_it(cli, write_study, pg_url: str, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as where it is not installed
    write_study("tiny", QUICK)
    result = cli("start", "tiny", "--ray", "auto", "--storage", pg_url)
    assert result.exit_code == 2 and "pip install 'tuner[ray]'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert optuna.get_all_study_names(storage=pg_url) == []


@pytest.mark.postgres
def test_workers_without_ray_is_refused_in_python(write_study, pg_url: str) -> None:
    import tuner
    from tuner.errors import TunerError

    with pytest.raises(TunerError, match="ray='auto'"):
        tuner.start(write_study("tiny", QUICK), storage=pg_url, workers=2)


@pytest.mark.slow
def test_each_trial_records_its_worker_without_ray(cli, write_study, workdir: Path) -> None:
    write_study("tiny", QUICK)
    assert cli("start", "tiny", "--trials", "2").exit_code == 0
    trials = optuna.load_study(study_name="tiny", storage="sqlite:///tuner.db").trials
    assert [t.user_attrs[record.WORKER] for t in trials] == [f"{socket.gethostname()}:{os.getpid()}"] * 2


def test_the_ray_extra_is_declared() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(req.startswith("ray[default]") for req in project["optional-dependencies"]["ray"])
    assert any("ray" in req for req in project["optional-dependencies"]["dev"])  # `make test` installs it
