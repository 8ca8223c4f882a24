"""`tuner report`: a self-contained HTML page with PNG figures and the top trials, from a real tiny study."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("best_so_far", "metric_vs_units", "gap_vs_params", "importances", "learning_curves")


def test_report_is_self_contained_with_figures_and_top_trials(cli, write_study, workdir: Path) -> None:
    write_study("tiny", {"budget": {"trials": 4}})
    assert cli("start", "tiny").exit_code == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("import sys; from tuner.cli import app; app(['report', 'tiny', '--out', 'out'], standalone_mode=False); "
            "print('TF', 'tensorflow' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "TF False" in run.stdout  # the report never pays for TensorFlow
    assert "written to out/index.html" in run.stdout

    page = (workdir / "out" / "index.html").read_text()
    assert len(re.findall(r'<img alt="(\w+)" src="data:image/png;base64,', page)) == len(FIGURES)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from elsewhere: opens offline
    for name in FIGURES:
        png = (workdir / "out" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5_000, name

    best = json.loads(cli("best", "tiny", "--json").output)
    top = json.loads((workdir / "out" / "top_trials.json").read_text())
    listed = json.loads(cli("list", "--json").output)[0]["counts"]["complete"]
    assert len(top) == listed
    assert top[0]["trial"] == best["number"] and top[0]["val_accuracy"] == best["value"]
    assert top[0]["units"] == best["attrs"]["units"] and top[0]["params"] == best["attrs"]["n_params"]
    assert [row["val_accuracy"] for row in top] == sorted((row["val_accuracy"] for row in top), reverse=True)
    assert f"<td>{best['number']}</td>" in page


def test_report_of_unknown_study_is_a_short_error(cli, write_study, workdir: Path) -> None:
    write_study("tiny", {"budget": {"trials": 1}})
    assert cli("start", "tiny").exit_code == 0
    result = cli("report", "nope", "--out", workdir / "out")
    assert result.exit_code == 2
    assert "study 'nope' not found" in result.output and "tiny" in result.output
    assert not (workdir / "out").exists()
