"""Bad input: a clear one- or two-line error naming the file/field/value and the fix, exit code 2, no traceback,
and nothing written to the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TINY


def assert_clean_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.output
    assert lines[0].startswith("error:")
    for needle in needles:
        assert needle in result.output, result.output


@pytest.mark.parametrize("changes, needles", [
    ({"epochz": 3}, ["studies/bad.yaml", "epochz", "unknown key"]),
    ({"space": {**TINY["space"], "units": {"low": 64, "high": 8}}}, ["space.units", "low (64) is greater than high (8)"]),
    ({"space": {**TINY["space"], "dropout": {"low": 0.0, "high": 1.5}}}, ["space.dropout", "[0, 1)"]),
    ({"space": {**TINY["space"], "l2": -0.1}}, ["space.l2", ">= 0"]),
    ({"space": {**TINY["space"], "layers": 0}}, ["space.layers", ">= 1"]),
    ({"data": {"bundled": "imagenet"}}, ["unknown data set 'imagenet'", "digits"]),
    ({"data": {"csv": "missing.csv", "target": "y"}}, ["missing.csv not found"]),
    ({"data": {"csv": "data/good.csv", "target": "label"}}, ["target column 'label'", "columns: a, b, y"]),
    ({"data": {"csv": "data/text.csv", "target": "y"}}, ["line 3", "column 'b'", "'red' is not a number"]),
    ({"data": {"csv": "data/empty.csv", "target": "y"}}, ["no rows"]),
    ({"training": {**TINY["training"], "metric": "val_f1"}}, ["training.metric", "'val_f1'", "val_accuracy"]),
])
def test_invalid_study_file(cli, write_study, workdir: Path, changes: dict, needles: list[str]) -> None:
    data = workdir / "studies" / "data"
    data.mkdir()
    (data / "good.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    (data / "text.csv").write_text("a,b,y\n1,2,0\n3,red,1\n")
    (data / "empty.csv").write_text("a,b,y\n")
    study = dict(TINY)
    study.pop("data")
    study.update(changes)
    study.setdefault("data", TINY["data"])
    import yaml

    write_study("bad", text=yaml.safe_dump(study))
    for command in ("validate", "start"):
        assert_clean_error(cli(command, "bad"), *needles)
    assert not (workdir / "tuner.db").exists()


def test_malformed_yaml(cli, write_study, workdir: Path) -> None:
    write_study("bad", text="data:\n  bundled: iris\n  space: [1, 2\n")
    assert_clean_error(cli("start", "bad"), "studies/bad.yaml", "malformed YAML at line")
    assert not (workdir / "tuner.db").exists()


def test_missing_study_file(cli, workdir: Path) -> None:
    assert_clean_error(cli("start", "nosuch"), "studies/nosuch.yaml")


def test_unreachable_storage(cli, write_study, workdir: Path) -> None:
    write_study("tiny")
    url = "postgresql+psycopg://tuner:s3cret@127.0.0.1:1/tuner"
    result = cli("start", "tiny", "--storage", url)
    assert_clean_error(result, "cannot connect", "127.0.0.1:1")
    assert "s3cret" not in result.output


def test_storage_that_is_not_a_url(cli, write_study, workdir: Path) -> None:
    write_study("tiny")
    assert_clean_error(cli("start", "tiny", "--storage", "tuner.db"), "not a URL", "sqlite:///")


def test_unknown_study_name(cli, write_study, workdir: Path) -> None:
    write_study("tiny", {"budget": {"trials": 1}})
    assert cli("start", "tiny").exit_code == 0
    for command in ("status", "best"):
        assert_clean_error(cli(command, "tinyy"), "'tinyy' not found", "tiny")


def test_reading_a_store_that_does_not_exist_creates_nothing(cli, workdir: Path) -> None:
    for args in (("list",), ("status", "digits"), ("best", "digits")):
        assert_clean_error(cli(*args), "tuner.db", "tuner start")
    assert not (workdir / "tuner.db").exists()
