"""Shared fixtures: tiny study files, a SQLite store in a temporary folder, and the CLI called in-process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TINY: dict[str, Any] = {
    "description": "tiny test study",
    "data": {"bundled": "iris", "seed": 0},
    "space": {"layers": {"low": 1, "high": 2}, "units": {"low": 4, "high": 32, "log": True},
              "l2": {"low": 1e-5, "high": 1e-2, "log": True}, "dropout": {"low": 0.0, "high": 0.3}},
    "training": {"epochs": 3, "batch_size": 32},
    "sampler": {"name": "random", "seed": 0},
    "pruner": {"name": "none"},
    "budget": {"trials": 3},
}


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Sections (data, space, ...) are updated key by key; a key's new value replaces the old one whole."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = {**out[key], **value} if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working folder with a studies/ folder; the default store lands here."""
    (tmp_path / "studies").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNER_STORAGE", raising=False)
    return tmp_path


@pytest.fixture
def write_study(workdir: Path):
    """write_study(name, **changes) -> path of studies/name.yaml built from TINY with changes merged in."""

    def write(name: str = "tiny", changes: dict[str, Any] | None = None, text: str | None = None) -> Path:
        path = workdir / "studies" / f"{name}.yaml"
        path.write_text(text if text is not None else yaml.safe_dump(merge(TINY, changes or {})))
        return path

    return write


@pytest.fixture
def cli():
    """cli(*args) -> click Result of running `tuner args...` in-process."""
    from tuner.cli import app

    runner = CliRunner()

    def invoke(*args: str, **kwargs: Any):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, **kwargs)

    return invoke


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests a test class lists in `excluded` by their parametrized name: Optuna's own storage tests
    where tuner differs on purpose (tests/test_store_suite.py says why)."""
    kept, dropped = [], []
    for item in items:
        (dropped if item.name in getattr(getattr(item, "cls", None), "excluded", {}) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
