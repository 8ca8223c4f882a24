"""The docs site builds with `mkdocs build --strict` (a broken link, anchor or API reference fails it), the README's
links reach their files, and the Python API's notebook, docs/api.ipynb, runs and prints what it shows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docexamples import ROOT, mismatch

NOTEBOOK = ROOT / "docs" / "api.ipynb"


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          cwd=config.parent, env=env, capture_output=True, text=True, timeout=300)


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    for page in ("index.html", "api/index.html", "ray/index.html", "api.ipynb", "images/dashboard-curves.png"):
        assert (tmp_path / "site" / page).is_file(), page
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in ("tuner.start", "tuner.open", "tuner.load", "tuner.best", "tuner.best_model", "tuner.Result",
                 "tuner.ModelParams"):
        assert f'id="{name}"' in api, f"{name} is not in the API reference"


@pytest.mark.parametrize("broken, named", [("[a link](no-such-page.md)", "no-such-page.md"),
                                           ("[an anchor](study-files.md#no-such-section)", "#no-such-section"),
                                           ("[a reference][tuner.no_such_function]", "tuner.no_such_function")])
def test_a_broken_link_fails_the_build(tmp_path: Path, broken: str, named: str) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "tuner").symlink_to(ROOT / "tuner")
    page = copy / "docs" / "errors.md"
    page.write_text(page.read_text() + f"\n{broken}\n")
    done = build(copy / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and named in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.slow
def test_the_readmes_links_reach_files_of_the_repository() -> None:
    """README.md is not part of the site, so its relative links (into docs/) are checked here."""
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\((?!https?://)([^)#\s]+)", text)
    assert "docs/getting-started.md" in targets and "docs/images/dashboard-curves.png" in targets, targets
    missing = [t for t in targets if not (ROOT / t).is_file()]
    assert not missing, f"README.md links to files that are not there: {missing}"


def test_the_api_notebook_runs_and_prints_what_it_shows(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    shown = nbformat.read(NOTEBOOK, as_version=4)
    ran = nbformat.read(NOTEBOOK, as_version=4)
    env = {"TUNER_STORAGE": "sqlite:///tuner.db", "TF_CPP_MIN_LOG_LEVEL": "3"}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # the kernel inherits them
    try:
        NotebookClient(ran, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert (tmp_path / "tuner.db").is_file() and (tmp_path / "model" / "model.keras").is_file()
    wrong = []
    for number, (before, after) in enumerate(zip(shown.cells, ran.cells)):
        if before.cell_type != "code":
            continue
        printed = "".join(o.text for o in after.outputs if o.output_type == "stream" and o.name == "stdout")
        showing = "".join(o.text for o in before.outputs if o.output_type == "stream" and o.name == "stdout")
        assert showing, f"cell {number} of {NOTEBOOK.name} shows no output; run it and keep what it prints"
        diff = mismatch(showing.splitlines(), printed)
        if diff:
            wrong.append(f"cell {number}:\n{diff}")
    assert not wrong, "\n\n".join(wrong)
