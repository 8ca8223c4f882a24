"""Fuzzed study and data files through the real CLI and the start-up checks: a mistake is always a one- or
two-line error with exit code 2, never a traceback, and nothing is written to a store; what validates can run.

Studies are made by mutating studies/digits.yaml and the TINY study (wrong types, out-of-range and huge values,
missing and unknown keys, lists where mappings go), by breaking the YAML text, and by pointing the data section at
CSV and NPZ files with broken contents. The examples are derandomized, so every run tries the same cases.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import signal
import sqlite3
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TINY
from tests.test_bad_input import assert_clean_error
from tuner.data import Dataset
from tuner.errors import TunerError
from tuner.run.session import check, trial_budget
from tuner.search.pruning import make_pruner
from tuner.search.sampler import make_sampler
from tuner.search.space import dimension, sample
from tuner.search.warmstart import enqueue, first_trials
from tuner.spec import (BudgetSpec, DataSpec, Dim, GridSpec, HalvingSpec, HyperbandSpec, MedianSpec, NoPrunerSpec,
                        RandomSpec, SpaceSpec, StudySpec, TPESpec, TrainingSpec, WarmStartSpec)

ROOT = Path(__file__).resolve().parent.parent
DIGITS_TEXT = (ROOT / "studies" / "digits.yaml").read_text()
BASES = {"digits": yaml.safe_load(DIGITS_TEXT), "tiny": TINY}
CASE_SECONDS = 20  # a case that takes longer hangs: no study file or data file should make the checks loop

# What a study that validates may ask a trial for (docs/study-files.md: "Search dimensions", "Training, sampler, ...").
LIMITS = {"layers": (1, 100), "units": (1, 65_536), "batch_size": (1, 1_000_000), "learning_rate": (0, math.inf),
          "l2": (0, 10), "dropout": (0, 1)}
MAX_EPOCHS = 100_000
pytestmark = pytest.mark.filterwarnings("ignore:The distribution is specified by:UserWarning")  # a step too large

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])


# --------------------------------------------------------------------------------------------- study mutations
def _section_keys() -> list[tuple[str, ...]]:
    """Every key a study file may hold, from the models themselves (so new settings are fuzzed too)."""
    sections: dict[str, tuple[Any, ...]] = {
        "data": (DataSpec,), "space": (SpaceSpec,), "training": (TrainingSpec,), "budget": (BudgetSpec,),
        "warm_start": (WarmStartSpec,), "sampler": (TPESpec, RandomSpec, GridSpec),
        "pruner": (NoPrunerSpec, MedianSpec, HalvingSpec, HyperbandSpec)}
    keys = [(key,) for key in StudySpec.model_fields]
    for section, models in sections.items():
        keys += sorted({(section, key) for model in models for key in model.model_fields})
    dims = [key for key, field in SpaceSpec.model_fields.items() if "Dim" in str(field.annotation)]
    keys += [("space", dim, key) for dim in dims for key in Dim.model_fields]
    return keys


KEYS = _section_keys()
SPECIAL_NUMBERS = [0, -1, 1, 2, 3, 0.5, -0.5, 1e-320, 1e-30, 1e12, 1e30, 1e308, -1e308, 10**30, 2**63, 2**64,
                   -(2**63), 100, 101, 1_000, 65_536, 65_537, 100_000, 100_001, 1_000_000, 1_000_001, 2**32,
                   math.inf, -math.inf, math.nan]
NUMBERS = st.one_of(st.sampled_from(SPECIAL_NUMBERS), st.integers(), st.floats())
WORDS = st.sampled_from(["", "1e308", "1.0e+308", "inf", ".nan", "relu", "digits", "tpe", "none", "grid", "x", "y",
                         "auto", "val_loss", "~", "[1, 2]", "{low: 1}", "é", "\x00"])
SCALARS = st.one_of(NUMBERS, st.booleans(), st.none(), WORDS, st.text(max_size=6))
RANGES = st.fixed_dictionaries({"low": NUMBERS, "high": NUMBERS},
                               optional={"log": SCALARS, "step": NUMBERS, "per_layer": SCALARS})
VALUES = st.one_of(SCALARS, SCALARS, RANGES, st.lists(SCALARS, max_size=4),
                   st.dictionaries(st.sampled_from(["low", "high", "name", "choices", "x", "trials"]), SCALARS,
                                   max_size=3),
                   st.lists(st.dictionaries(st.sampled_from(["layers", "units", "dropout", "l2", "batch_size",
                                                             "learning_rate", "activation", "colour"]),
                                            st.one_of(SCALARS, st.lists(SCALARS, max_size=3)), max_size=3),
                            max_size=2))


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, ...]:
    """One change to a study: set a key, delete one, add an unknown one, or turn a mapping into a list."""
    kind = draw(st.sampled_from(["set", "set", "set", "delete", "unknown", "retype"]))
    path = draw(st.sampled_from(KEYS))
    if kind == "set":
        return ("set", path, draw(VALUES))
    if kind == "unknown":
        return ("unknown", path[:-1], draw(st.sampled_from(["colour", "epochz", "Layers", "1", "per_layer"])),
                draw(SCALARS))
    return (kind, path)


def mutate(study: dict[str, Any], change: tuple[Any, ...]) -> None:
    kind, path = change[0], change[1]
    parent: Any = study
    for key in path[:-1]:
        if not isinstance(parent.get(key), dict):
            if kind != "set":
                return
            parent[key] = {}
        parent = parent[key]
    if kind == "unknown":
        parent[change[2]] = change[3]
    elif kind == "set":
        parent[path[-1]] = change[2]
    elif kind == "delete":
        parent.pop(path[-1], None)
    elif isinstance(parent.get(path[-1]), dict):  # retype: a list where a mapping goes
        parent[path[-1]] = list(parent[path[-1]].values())


# ---------------------------------------------------------------------------------------------- broken YAML text
YAML_BITS = st.sampled_from(["[", "]", "{", "}", ":", ": ", ",", "-", "- ", "#", "&a", "*a", "|", ">", "'", '"',
                             "!!python/object:os.system", "%YAML 1.1", "@", "`", "\t", "\n", "  ", "---\n", "...",
                             "? ", "~", "!!binary", "é", "\x00", "\ufeff", "1.0e+308", ".inf", "data:", "space:",
                             "2024-02-30", "1" * 5_000])


@st.composite
def broken_texts(draw: st.DrawFn) -> bytes:
    """A study file's text with characters deleted, inserted or re-indented, cut short, deeply nested, or with
    bytes that are not UTF-8."""
    text = draw(st.sampled_from([DIGITS_TEXT, yaml.safe_dump(TINY)]))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["delete", "insert", "insert", "line", "indent", "cut", "nest"]))
        at = draw(st.integers(0, len(text)))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif kind == "insert":
            text = text[:at] + draw(st.one_of(YAML_BITS, st.text(max_size=4))) + text[at:]
        elif kind in ("line", "indent"):
            lines = text.splitlines()
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines[i] = (draw(st.sampled_from(["  ", "\t", " "])) + lines[i]) if kind == "indent" else \
                    draw(st.one_of(YAML_BITS, st.text(max_size=20)))
            text = "\n".join(lines) + "\n"
        elif kind == "cut":
            text = text[:at]
        else:
            depth = draw(st.sampled_from([10, 200, 2_000, 20_000]))
            text += f"nested: {'[' * depth}{']' * depth}\n"
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 5)) == 0:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x80\x81", b"\xfe\xff", b"\x00\x00"])) + raw[at:]
    return raw


# -------------------------------------------------------------------------------------------- broken data files
@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    """A CSV file, usually nearly right (a header, numeric features, a target) with one or two things wrong."""
    rows = draw(st.integers(0, 60))
    header = draw(st.sampled_from(["a,b,y"] * 6 + ["a,a,y", "a,,y", "y", "", "1,2,0", "a;b;y", "\ufeffa,b,y",
                                                   "a,b,y,y", " a , b , y ", '"a,b",y', "a,b,\"y"]))
    target = draw(st.sampled_from(["classes"] * 3 + ["single", "nan", "text", "float", "empty", "inf", "mixed",
                                                     "bool"]))
    feature = draw(st.sampled_from(["number"] * 4 + ["text", "nan", "inf", "empty", "huge", "long"]))
    lines = [header]
    for i in range(rows):
        y = {"classes": i % 3, "single": 0, "nan": "nan" if i == 3 else i % 2, "text": "red" if i % 2 else "blue",
             "float": i * 0.37, "empty": "" if i == 5 else i % 2, "inf": "inf" if i == 2 else i, "mixed":
             "red" if i == 4 else i % 2, "bool": "true" if i % 2 else "false"}[target]
        x = {"number": i, "text": "red" if i == 7 else i, "nan": "nan" if i == 1 else i, "inf": "-inf" if i == 1
             else i, "empty": "" if i == 9 else i, "huge": "1e400" if i == 0 else i,
             "long": "9" * 200_000 if i == 0 else i}[feature]
        cells = [str(x), str((i * 7) % 5), str(y)]
        if draw(st.integers(0, 30)) == 0:  # a ragged row
            cells = cells[:draw(st.integers(0, 2))] if draw(st.booleans()) else cells + ["9"]
        lines.append(",".join(cells))
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines) + draw(st.sampled_from(["\n", "", "\n\n", '"']))
    raw = text.encode()
    corrupt = draw(st.sampled_from([None] * 8 + ["latin1", "binary", "nul", "random", "bom16"]))
    if corrupt == "latin1":
        raw = raw.replace(b"a,", "\u00e9,".encode("latin-1"), 1) + "caf\u00e9\n".encode("latin-1")
    elif corrupt == "binary":
        raw = bytes(range(256)) * 4
    elif corrupt == "nul":
        raw = raw[:len(raw) // 2] + b"\x00" + raw[len(raw) // 2:]
    elif corrupt == "random":
        raw = draw(st.binary(max_size=200))
    elif corrupt == "bom16":
        raw = text.encode("utf-16")
    section = {"csv": "data.csv", "target": draw(st.sampled_from(["y"] * 5 + ["a", "label", "", " y"]))}
    if draw(st.integers(0, 5)) == 0:
        section["features"] = draw(st.sampled_from([[], ["a"], ["a", "a"], ["y"], ["nope"], "a", [1], [None]]))
    return raw, section


def _array(kind: str, rows: int, rng: np.random.Generator, target: bool) -> np.ndarray:
    if kind == "0d":
        return np.array(3.0)
    if kind == "flat":
        return rng.normal(size=rows)
    if kind == "column":
        return rng.integers(0, 3, (rows, 1))
    if kind == "wide":
        return rng.normal(size=(rows, 3)) if target else rng.normal(size=(rows, 2, 3))
    if kind == "no columns":
        return np.zeros((rows, 0))
    if kind == "short":
        return rng.normal(size=(max(rows - 1, 0), 4))
    if kind == "object":
        return np.array([[1, "a"]] * rows, dtype=object)
    if kind == "text":
        return np.array([["red", "blue"][i % 2] for i in range(rows)])
    if kind == "bytes":
        return np.array([[b"r", b"b"][i % 2] for i in range(rows)])
    if kind == "complex":
        return rng.normal(size=(rows, 2)) + 1j
    if kind == "bool":
        return rng.integers(0, 2, (rows, 4)).astype(bool)
    if kind == "dates":
        return np.array(["2024-01-01"] * rows, dtype="datetime64[D]")
    if kind == "records":
        return np.zeros(rows, dtype=[("a", "f4"), ("b", "i4")])
    if kind == "nan":
        values = rng.normal(size=rows if target else (rows, 4))
        values[:1] = np.nan
        return values
    if kind == "inf":
        values = rng.normal(size=rows if target else (rows, 4))
        values[:1] = np.inf
        return values
    if kind == "single":
        return np.zeros(rows, dtype=int)
    if kind == "float16":
        return rng.normal(size=(rows, 4)).astype("float16")
    return rng.integers(0, 3, rows) if target else rng.normal(size=(rows, 4))  # "good"


@st.composite
def npz_files(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    """An NPZ file: arrays of the wrong shapes or dtypes, object arrays, or a file that is no NPZ at all."""
    rows = draw(st.sampled_from([0, 1, 2, 5, 40, 80]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kinds = ["good"] * 6 + ["0d", "flat", "column", "wide", "no columns", "short", "object", "text", "bytes",
                            "complex", "bool", "dates", "records", "nan", "inf", "single", "float16"]
    x = _array(draw(st.sampled_from(kinds)), rows, rng, target=False)
    y = _array(draw(st.sampled_from(kinds)), rows, rng, target=True)
    buffer = io.BytesIO()
    container = draw(st.sampled_from(["savez"] * 6 + ["compressed", "npy", "not npz", "text zip", "truncated",
                                                      "renamed", "empty zip", "random"]))
    if container == "npy":
        np.save(buffer, x)
    elif container in ("not npz", "random"):
        buffer.write(b"x,y\n1,2\n" if container == "not npz" else draw(st.binary(max_size=300)))
    elif container in ("text zip", "empty zip"):
        with zipfile.ZipFile(buffer, "w") as archive:
            if container == "text zip":
                archive.writestr("x.npy", "not an array")
                archive.writestr("y.npy", b"\x93NUMPY\x01\x00garbage")
    else:
        keys = {"features": x, "labels": y} if container == "renamed" else {"x": x, "y": y}
        (np.savez_compressed if container == "compressed" else np.savez)(buffer, **keys)
    raw = buffer.getvalue()
    if container == "truncated":
        raw = raw[:draw(st.integers(0, max(len(raw) - 1, 0)))]
    section: dict[str, Any] = {"npz": "data.npz"}
    if draw(st.integers(0, 5)) == 0:
        section.update(draw(st.sampled_from([{"x_key": "y"}, {"y_key": "x"}, {"x_key": "features", "y_key": "labels"},
                                             {"shape": [2, 2, 1]}, {"shape": [4]}, {"x_key": ""}])))
    return raw, section


# ------------------------------------------------------------------------------------------------ the property
@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Turn a hang into a failure that names the case."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the checks took over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def case_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh folder per case (data is cached per study folder, so a reused one would hide a new file)."""
    with tempfile.TemporaryDirectory(dir=tmp_path_factory.getbasetemp()) as folder:
        yield Path(folder)


def assert_runnable(spec: StudySpec, data: Dataset) -> None:
    """A study that validates asks for nothing absurd (finite numbers, sizes Keras can build, a sane epoch count),
    and what `tuner start` does with it before training starts works: its sampler and pruner are made, the warm
    start is queued, and the first trials get their hyperparameters from the study's space."""
    def leaves(value: Any) -> Iterator[Any]:
        if isinstance(value, dict):
            for item in value.values():
                yield from leaves(item)
        elif isinstance(value, list):
            for item in value:
                yield from leaves(item)
        else:
            yield value

    for value in leaves(spec.model_dump(exclude={"max_params"})):  # a parameter cap only ever compares
        if isinstance(value, float):
            assert math.isfinite(value), spec
        elif isinstance(value, int):
            assert abs(value) <= 2**53, spec
    for field, (low, high) in LIMITS.items():
        lo, hi = dimension(spec.space, spec.training, field).bounds()
        assert low <= lo <= hi <= high, (field, lo, hi)
    assert 1 <= spec.training.epochs <= MAX_EPOCHS
    assert spec.training.patience is None or spec.training.patience <= MAX_EPOCHS
    trial_budget(spec)
    study = optuna.create_study(sampler=make_sampler(spec), pruner=make_pruner(spec))
    enqueue(study, first_trials(spec, data.n_features, data.n_outputs))
    for _ in range(2):
        sample(study.ask(), spec.space, spec.training)


def run_case(cli, folder: Path, study: bytes, start: bool) -> bool:
    """The study file through `check` and `tuner validate` (and, when asked and invalid, `tuner start`): both agree,
    an invalid one gets a short error with exit code 2, and nothing is written. Returns whether it was valid."""
    path = folder / "study.yaml"
    path.write_bytes(study)
    before = sorted(folder.rglob("*"))
    tensorflow_loaded = "tensorflow" in sys.modules
    with time_limit(CASE_SECONDS):
        try:
            spec, data, _ = check(path)
        except TunerError as exc:
            valid, message = False, str(exc)
            assert 1 <= len(message.strip().splitlines()) <= 2, message
        else:
            valid = True
            assert_runnable(spec, data)
        result = cli("validate", path)
        assert "Traceback" not in result.output
        if valid:
            assert result.exit_code == 0 and ": ok: " in result.output, result.output
        else:
            assert_clean_error(result)
        if start and not valid:
            db = folder / "s.db"
            assert_clean_error(cli("start", path, "--storage", f"sqlite:///{db}"))
            if db.exists():
                with contextlib.closing(sqlite3.connect(db)) as connection:
                    tables = {row[0] for row in connection.execute("select name from sqlite_master")}
                    assert "studies" not in tables or not connection.execute("select * from studies").fetchall()
    assert sorted(folder.rglob("*")) == before, "a check wrote files"
    assert tensorflow_loaded or "tensorflow" not in sys.modules, "validate imported TensorFlow"
    return valid


@settings(FUZZ, max_examples=600)
@given(base=st.sampled_from(sorted(BASES)), changes=st.lists(mutations(), min_size=1, max_size=3),
       start=st.integers(0, 9))
def test_mutated_study_files(cli, tmp_path_factory: pytest.TempPathFactory, base: str, changes: list,
                             start: int) -> None:
    study = copy.deepcopy(BASES[base])
    for change in changes:
        mutate(study, change)
    with case_folder(tmp_path_factory) as folder:
        run_case(cli, folder, yaml.safe_dump(study, allow_unicode=True).encode(), start=start == 0)


@settings(FUZZ, max_examples=200)
@given(text=broken_texts(), start=st.integers(0, 9))
def test_broken_yaml_text(cli, tmp_path_factory: pytest.TempPathFactory, text: bytes, start: int) -> None:
    with case_folder(tmp_path_factory) as folder:
        run_case(cli, folder, text, start=start == 0)


@settings(FUZZ, max_examples=400)
@given(base=st.sampled_from(sorted(BASES)), data_file=st.one_of(csv_files(), npz_files()), start=st.integers(0, 9))
def test_broken_data_files(cli, tmp_path_factory: pytest.TempPathFactory, base: str, data_file: tuple,
                           start: int) -> None:
    raw, section = data_file
    study = copy.deepcopy(BASES[base])
    study["data"] = {**{k: v for k, v in study["data"].items() if k != "bundled"}, **section}
    with case_folder(tmp_path_factory) as folder:
        (folder / (section.get("csv") or section["npz"])).write_bytes(raw)
        run_case(cli, folder, yaml.safe_dump(study, allow_unicode=True).encode(), start=start == 0)
