"""tuner installed from its wheel (not this checkout) works from any folder: the example studies are package data,
a study file in the working folder wins over the example of the same name, and `tuner init` writes a study for a
CSV that validates and runs."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a process that imports tuner from its built wheel, installed into a folder of its own."""
    base = tmp_path_factory.mktemp("installed")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                            str(base / "wheel"), str(ROOT)], check=True, capture_output=True, text=True)
    assert "BuildBackendWarning" not in built.stdout + built.stderr  # package data declared, nothing left to warn
    (wheel,) = (base / "wheel").glob("tuner-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(base / "site"),
                    str(wheel)], check=True, capture_output=True)
    yield {**os.environ, "PYTHONPATH": str(base / "site"), "TF_CPP_MIN_LOG_LEVEL": "3", "TUNER_THREADS": "2"}


def test_an_editable_install_is_quiet_and_plain(tmp_path: Path) -> None:
    """`make setup`'s `pip install -e .`: setuptools' editable hook adds the checkout to sys.path with one .pth entry
    and prints no notice (a mapped package folder makes it install an import finder and warn about it)."""
    hook = "import setuptools.build_meta as b, sys; print(b.build_editable(sys.argv[1]))"
    built = subprocess.run([sys.executable, "-c", hook, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                           check=True)
    assert "Editable installation." not in built.stdout + built.stderr, built.stderr[-2000:]
    with zipfile.ZipFile(tmp_path / built.stdout.split()[-1]) as wheel:
        (pth,) = [name for name in wheel.namelist() if name.endswith(".pth")]
        assert wheel.read(pth).decode().split() == [str(ROOT)]


def tuner(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuner", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_the_version_is_the_installed_one(installed: dict[str, str], tmp_path: Path) -> None:
    from importlib.metadata import version

    result = tuner(installed, tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"tuner {version('tuner')}", result.stderr


def test_it_is_the_installed_copy_that_runs(installed: dict[str, str], tmp_path: Path) -> None:
    where = subprocess.run([sys.executable, "-c", "import tuner.spec.files as f; print(f.examples_dir())"],
                           cwd=tmp_path, env=installed, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(installed["PYTHONPATH"]) and not where.startswith(str(ROOT))
    assert {"digits.yaml", "tumours.yaml"} <= {p.name for p in Path(where).iterdir()}
    assert (Path(where) / "data" / "tumours.csv").is_file()


def test_an_example_study_runs_from_any_folder(installed: dict[str, str], tmp_path: Path) -> None:
    result = tuner(installed, tmp_path, "start", "digits", "--trials", "3")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(3 counted toward the budget)" in result.stdout and (tmp_path / "tuner.db").is_file()
    result = tuner(installed, tmp_path, "start", "tumours", "--trials", "1")  # an example reading its CSV
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_study_file_here_wins_over_the_example(installed: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "digits.yaml").write_text("data: {bundled: iris}\n")
    result = tuner(installed, tmp_path, "validate", "digits")
    assert result.returncode == 0 and result.stdout.startswith("studies/digits.yaml: ok: iris"), result.stdout
    result = tuner(installed, tmp_path, "validate", "nothing")
    assert result.returncode == 2 and "digits" in result.stderr and "tuner init" in result.stderr


def test_init_writes_a_study_for_a_csv_that_runs(installed: dict[str, str], tmp_path: Path) -> None:
    rows = ["size,weight,colour,kind"] + [f"{i % 17},{(i * 7) % 23},{'red' if i % 3 else 'blue'},"
                                          f"{'a' if (i % 17) + (i * 7) % 23 > 19 else 'b'}" for i in range(200)]
    (tmp_path / "things.csv").write_text("\n".join(rows) + "\n")
    made = tuner(installed, tmp_path, "init", "things", "--csv", "things.csv", "--target", "kind")
    assert made.returncode == 0, made.stderr
    assert "classification into 2 classes" in made.stdout and "left out (not numbers): colour" in made.stdout
    assert (tmp_path / "studies" / "things.yaml").is_file()
    assert tuner(installed, tmp_path, "validate", "things").returncode == 0
    result = tuner(installed, tmp_path, "start", "things", "--trials", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    again = tuner(installed, tmp_path, "init", "things", "--csv", "things.csv", "--target", "kind")
    assert again.returncode == 2 and "--force" in again.stderr
