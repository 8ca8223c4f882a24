"""docker-compose.yml checked against the CLI, and its services' commands run against the local PostgreSQL.

There is no Docker engine here: the commands the containers would run are run as local processes instead.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
import yaml

from tests.test_postgres import ROOT, assert_finished_exactly, pg_url  # noqa: F401 (fixture)

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$ (a literal $ for the container's shell)."""
    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    text = re.sub(r"(?<!\$)\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, text)
    return text.replace("$$", "$")


def command(service: str, env: dict[str, str]) -> list[str]:
    return [interpolate(part, env) for part in SERVICES[service]["command"]]


def test_services_are_there() -> None:
    assert {"db", "start", "worker", "dashboard"} <= set(SERVICES)
    db = SERVICES["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert set(COMPOSE["volumes"]) >= {v.split(":")[0] for v in db["volumes"]}
    for name in ("start", "worker", "dashboard"):
        assert SERVICES[name]["depends_on"]["db"]["condition"] == "service_healthy"
        assert "./tuner/examples:/app/studies:ro" in SERVICES[name]["volumes"]
    assert "deploy" not in SERVICES["worker"] and "container_name" not in SERVICES["worker"]  # --scale works


def test_dashboard_is_published_on_localhost_only() -> None:
    ports = SERVICES["dashboard"]["ports"]
    assert ports and all(str(p).startswith("127.0.0.1:") for p in ports)
    for name, service in SERVICES.items():
        if name != "dashboard":
            assert "ports" not in service, f"{name} publishes a port"


def test_secrets_come_from_the_env_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("start", "worker", "dashboard"):
        url = SERVICES[name]["environment"]["TUNER_STORAGE"]
        assert "${POSTGRES_PASSWORD:?" in url
    assert "${POSTGRES_PASSWORD:?" in SERVICES["db"]["environment"]["POSTGRES_PASSWORD"]
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert "POSTGRES_PASSWORD" in example
    for var in set(re.findall(r"\$\{(\w+)", text)):
        assert var in example, f"{var} is used in docker-compose.yml but not described in .env.example"
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert "change-me" not in text


def test_commands_exist_with_their_options(cli) -> None:
    env = {"POSTGRES_PASSWORD": "x"}
    for name in ("start", "worker", "dashboard"):
        cmd = command(name, env)
        assert cmd[0] == "tuner"
        result = cli(cmd[1], "--help")
        assert result.exit_code == 0, f"{name}: no command `tuner {cmd[1]}`"
        for option in (part for part in cmd if part.startswith("--")):
            assert option in result.output, f"{name}: `tuner {cmd[1]}` has no {option}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.postgres
@pytest.mark.slow
def test_compose_commands_run_against_local_postgres(pg_url: str, write_study, workdir: Path) -> None:  # noqa: F811
    write_study("tiny", {"training": {"epochs": 1}})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUNER_STORAGE": pg_url, "TF_CPP_MIN_LOG_LEVEL": "3",
           "STUDY": "tiny", "TRIALS": "4", "POSTGRES_PASSWORD": "unused-here"}

    def local(cmd: list[str]) -> list[str]:  # `tuner ...` as this checkout's module
        return [sys.executable, "-m", "tuner", *cmd[1:]] if cmd[0] == "tuner" else cmd

    worker = subprocess.Popen(local(command("worker", env)), env=env, cwd=workdir, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # waits for the study
    start = subprocess.run(local(command("start", env)), env=env, cwd=workdir, text=True, capture_output=True,
                           timeout=400)
    out, _ = worker.communicate(timeout=400)
    assert start.returncode == 0, start.stderr[-2000:]
    assert worker.returncode == 0, out[-2000:]
    assert_finished_exactly(optuna.load_study(study_name="tiny", storage=pg_url).get_trials(), 4)

    port = _free_port()
    shell = local(command("dashboard", env))
    shell = [{"0.0.0.0": "127.0.0.1", "8080": str(port)}.get(part, part) for part in shell]
    env["TUNER_ARTIFACTS"] = str(workdir / "artifacts")
    dashboard = subprocess.Popen(shell, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as response:
                    summaries = json.load(response)["study_summaries"]
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the dashboard command did not serve /api/studies")
        assert [s["study_name"] for s in summaries] == ["tiny"]
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=30)
