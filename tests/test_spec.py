"""Study-file validation: valid files load, every kind of mistake is refused with a message naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tuner.errors import SpecError
from tuner.spec import load_spec, parse_spec
from tests.conftest import TINY, merge

STUDIES = sorted(Path(__file__).resolve().parent.parent.joinpath("studies").glob("*.yaml"))


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_shipped_study_files_are_valid(path: Path) -> None:
    spec = load_spec(path)
    assert spec.training.epochs >= 1


@pytest.mark.parametrize("changes, field", [
    ({"space": {"units": [16, 64, 256]}}, None),
    ({"space": {"units": 32, "layers": 2, "dropout": 0.2, "l2": 0.01}}, None),
    ({"space": {"units": {"low": 8, "high": 64, "step": 8}}}, None),
    ({"space": {"l2": [0, 1e-4, 1e-2], "dropout": {"choices": [0.0, 0.2], "per_layer": False}}}, None),
    ({"space": {"learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}, "batch_size": [16, 32],
                "activation": ["relu", "tanh"]}}, None),
    ({"sampler": "grid", "space": {"layers": [1, 2], "units": {"choices": [8, 16], "per_layer": False},
                                   "l2": [0, 1e-3], "dropout": {"choices": [0.0], "per_layer": False}}}, None),
    ({"pruner": {"name": "hyperband", "min_resource": 1}}, None),
    ({"pruner": {"name": "successive_halving"}}, None),
    ({"pruner": {"name": "median", "n_warmup_steps": 1}}, None),
])
def test_valid_variants(changes: dict, field: None) -> None:
    spec = parse_spec(merge(TINY, changes))
    assert spec.space.max_layers >= 1


@pytest.mark.parametrize("changes, expected", [
    ({"colour": "blue"}, "colour: unknown key"),
    ({"space": {"widths": 3}}, "space.widths: unknown key"),
    ({"space": {"units": {"low": 512, "high": 8}}}, "space.units: low (512) is greater than high (8)"),
    ({"space": {"dropout": {"low": 0.1, "high": 1.0}}}, "space.dropout: rates must lie in [0, 1)"),
    ({"space": {"dropout": -0.1}}, "space.dropout: rates must lie in [0, 1)"),
    ({"space": {"l2": -0.01}}, "space.l2: strength must be >= 0"),
    ({"space": {"l2": {"low": 0, "high": 0.1, "log": True}}}, "space.l2: a log range needs low > 0"),
    ({"space": {"layers": 0}}, "space.layers: needs whole numbers >= 1"),
    ({"space": {"units": {"low": 0.5, "high": 8}}}, "space.units: needs whole numbers >= 1"),
    ({"space": {"units": []}}, "space.units: choices is empty"),
    ({"data": {"bundled": "mnist"}}, "unknown data set 'mnist'"),
    ({"data": {"bundled": None, "csv": "x.csv"}}, "csv: needs target"),
    ({"data": {"validation_split": 1.5}}, "data.validation_split"),
    ({"training": {"epochs": 0}}, "training.epochs"),
    ({"training": {"optimizer": "adagrad"}}, "training.optimizer"),
    ({"sampler": "annealing"}, "sampler: unknown name 'annealing'"),
    ({"pruner": {"name": "median", "min_resource": 2}}, "pruner.min_resource: unknown key"),
    ({"sampler": "grid"}, "sampler grid: space.layers is a range"),
    ({"budget": {"trials": 0}}, "budget.trials"),
    ({"training": {"epochs": 2}, "pruner": {"name": "hyperband", "min_resource": 3}},
     "pruner.min_resource: 3 epochs is more than training.epochs (2); give at most 2"),
    ({"training": {"epochs": 4}, "pruner": {"name": "successive_halving", "min_resource": 5}},
     "pruner.min_resource: 5 epochs is more than training.epochs (4)"),
])
def test_invalid_variants_name_the_field(changes: dict, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(merge(TINY, changes), "studies/x.yaml")
    message = str(info.value)
    assert message.startswith("studies/x.yaml: ")
    assert expected in message
    assert len(message.splitlines()) <= 2


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  bundled: digits\n space: [\n")
    with pytest.raises(SpecError, match=r"bad.yaml: malformed YAML at line \d+"):
        load_spec(path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(SpecError, match="expected a mapping"):
        load_spec(path)


def test_fingerprint_ignores_budget_and_seed_but_not_the_space() -> None:
    base = parse_spec(TINY)
    assert base.fingerprint() == parse_spec(merge(TINY, {"budget": {"trials": 99}, "sampler": {"seed": 7}})).fingerprint()
    assert base.fingerprint() != parse_spec(merge(TINY, {"space": {"units": [8, 16]}})).fingerprint()
