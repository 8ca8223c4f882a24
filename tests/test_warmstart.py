"""Warm starts: the rule-of-thumb first trial, listed starting configurations, and turning it off."""

from __future__ import annotations

import optuna
import pytest

from tuner.errors import SpecError
from tuner.spec import parse_spec
from tuner.store import open_storage
from tuner.search.warmstart import first_trials, rule_of_thumb
from tests.conftest import TINY, merge


def _spec(changes: dict | None = None):
    return parse_spec(merge(TINY, changes or {}))


def test_rule_of_thumb_lies_between_inputs_and_outputs_inside_the_space() -> None:
    config = rule_of_thumb(_spec({"space": {"units": {"low": 4, "high": 256}}}), 64, 10)
    assert config["units"] == 37 and config["layers"] == 1  # (64 + 10) / 2
    assert config["l2"] == 1e-4 and config["dropout"] == 0.2
    clipped = rule_of_thumb(_spec({"space": {"units": {"low": 64, "high": 128}, "dropout": {"low": 0, "high": 0.1},
                                             "layers": {"low": 2, "high": 3}}}), 64, 10)
    assert clipped["units"] == 64 and clipped["dropout"] == 0.1 and clipped["layers"] == 2
    assert rule_of_thumb(_spec({"space": {"units": [16, 32, 128]}}), 64, 10)["units"] == 32  # nearest choice


def test_listed_configurations_become_trial_params() -> None:
    spec = _spec({"space": {"layers": {"low": 1, "high": 3}},
                  "warm_start": {"trials": [{"layers": 2, "units": [16, 8], "dropout": 0.1}]}})
    rule, listed = first_trials(spec, 4, 3)
    assert rule["n_layers"] == 1 and rule["units_0"] == 4  # round(3.5) clipped into 4..32
    assert listed == {"n_layers": 2, "units_0": 16, "units_1": 8, "dropout_0": 0.1, "dropout_1": 0.1,
                      "l2": 1e-4}
    assert first_trials(_spec({"warm_start": False}), 4, 3) == []


@pytest.mark.parametrize("entry, message", [({"units": 999}, "outside the space's range"),
                                            ({"layers": 2, "units": [8]}, "one per layer"),
                                            ({"width": 8}, "unknown key")])
def test_bad_starting_configuration_is_a_spec_error(entry: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        first_trials(_spec({"space": {"layers": {"low": 1, "high": 3}}, "warm_start": {"trials": [entry]}}), 4, 3)


def test_warm_start_and_new_defaults_keep_the_fingerprint() -> None:
    base = _spec().fingerprint()
    assert _spec({"warm_start": {"rule_of_thumb": False}}).fingerprint() == base
    assert _spec({"objectives": ["metric"], "space": {"family": "dense"}}).fingerprint() == base
    assert _spec({"max_params": 1000}).fingerprint() != base
    assert _spec({"objectives": ["metric", "n_params"]}).fingerprint() != base


@pytest.mark.slow
@pytest.mark.parametrize("warm", [True, False])
def test_first_trial_of_a_study_is_the_rule_of_thumb(cli, write_study, warm: bool) -> None:
    write_study("tiny", {"space": {"layers": 1, "units": {"low": 2, "high": 64, "log": True}},
                         "training": {"epochs": 1}, "budget": {"trials": 2}, "warm_start": warm})
    assert cli("start", "tiny").exit_code == 0
    first = optuna.load_study(study_name="tiny", storage=open_storage(heartbeat=False)).trials[0]
    assert (first.params == {"units_0": 4, "dropout_0": 0.2, "l2": 1e-4}) is warm  # iris: round((4 + 3) / 2)
    assert first.user_attrs.get("warm_start", False) is warm
