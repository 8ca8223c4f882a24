"""The zoo (tests/zoo): Keras models as users write them, each trained by tuner and by plain `model.fit` on the same
rows over the same five seeds. tuner replaces `model.fit` with its own training paths (the shared path,
`model.fit` on tf.data pipelines); what it records for a user's model must be what the user would get
without it: the same mean value (within two standard errors plus a stated tolerance) and a learning curve that
does not collapse to chance where `model.fit`'s does not. Each entry also checks the path it takes, so the zoo keeps
covering every path, with and without L2 and dropout.

`model.fit`'s runs train in a second process, started with the module, beside tuner's trials in this one."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pytest

from tests.zoo import BY_NAME, ZOO, ZooModel, compare, plain, study
from tests.zoo.plain import Runs

pytestmark = pytest.mark.slow
SEEDS = tuple(range(study.TRIALS))  # the study's seed (0) plus each trial's number
REWIDENED = [(entry, kind) for entry in ZOO for kind in entry.rewiden]
Configuration = tuple[str, float, float]  # entry, L2, dropout


@pytest.fixture(scope="module", autouse=True)
def warm_up() -> None:
    """TensorFlow imported and one tiny model trained once, before any entry is timed."""
    from tuner.backend import load_keras

    load_keras()
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.zeros((8, 4)), np.zeros(8), validation_data=(np.zeros((4, 4)), np.zeros(4)), verbose=0)


def configuration(entry: ZooModel, kind: str) -> Configuration:
    """What model.fit trains for a test: the entry as it is, or re-widened (its model as it is: no L2, no
    dropout)."""
    return (entry.name, entry.l2, entry.dropout) if kind in ("build", "tuner") else (entry.name, 0.0, 0.0)


def kind_of(entry: ZooModel) -> str:
    return "build" if entry.build else "tuner"


@pytest.fixture(scope="module")
def oracle(request: pytest.FixtureRequest) -> Iterator[dict[Configuration, Future[Runs]]]:
    """model.fit's runs for every configuration the selected tests need, in their order, in one worker process."""
    wanted: list[Configuration] = []
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.module is request.module and "entry" in params:
            key = configuration(params["entry"], params.get("kind", kind_of(params["entry"])))
            wanted += [key] if key not in wanted else []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=plain.start_worker) as pool:
        futures = {key: pool.submit(plain.fit, BY_NAME[key[0]], SEEDS, key[1], key[2]) for key in wanted}
        yield futures
        for future in futures.values():
            future.cancel()


def check(entry: ZooModel, kind: str, definition: dict, folder: Path,
          oracle: dict[Configuration, Future[Runs]]) -> None:
    import keras

    keras.backend.clear_session()
    mine, session = study.run(entry.name, definition, folder)
    path = study.path_taken(session)
    theirs = oracle[configuration(entry, kind)].result()
    print(compare.row(entry, kind, path, mine, theirs))
    assert mine.seeds == theirs.seeds, f"tuner's trials ran seeds {mine.seeds}, not the study's seed + trial number"
    assert path == entry.path, f"{entry.name} ({kind}) took the {path} path, not {entry.path}"
    problems = compare.agreement(entry, mine, theirs)
    assert not problems, f"{entry.name} ({kind}, {path} path): " + "; ".join(problems)
    classes = plain.splits(entry).get("classes")
    if classes is not None:
        assert session.data.classes == tuple(classes), f"classes {session.data.classes}, given as {classes}"


@pytest.mark.parametrize("entry", ZOO, ids=[entry.name for entry in ZOO])
def test_a_zoo_model_trains_as_it_does_with_model_fit(entry: ZooModel, tmp_path: Path, oracle) -> None:
    check(entry, kind_of(entry), study.definition(entry), tmp_path, oracle)


@pytest.mark.parametrize(("entry", "kind"), REWIDENED, ids=[f"{e.name}-{kind}" for e, kind in REWIDENED])
def test_a_rewidened_zoo_model_trains_as_it_does_with_model_fit(entry: ZooModel, kind: str, tmp_path: Path,
                                                                oracle) -> None:
    if kind == "keras":
        plain.build(entry, plain.hyperparams(entry, 0.0, 0.0)).save(tmp_path / f"{entry.name}.keras")
        model = {"keras": str(tmp_path / f"{entry.name}.keras")}
    else:
        source = tmp_path / "existing.py"
        source.write_text(EXISTING.format(entry=entry.name))
        model = {"function": f"{source}:existing"}
    check(entry, kind, study.definition(entry, model, l2=0.0, dropout=0.0), tmp_path, oracle)


EXISTING = '''from tests.zoo import BY_NAME, plain


def existing():
    entry = BY_NAME["{entry}"]
    return plain.build(entry, plain.hyperparams(entry, 0.0, 0.0))
'''


def test_a_model_of_two_inputs_is_refused_before_its_study_starts(tmp_path: Path) -> None:
    """tuner feeds a model one array a row: a model of two keras.Inputs is refused with the way to write it (the
    zoo's split_inputs takes one input and splits it), and nothing is stored."""
    import tuner

    entry = BY_NAME["split_inputs"]
    definition = study.definition(entry)
    definition["model"]["build"] = "models.py:two_inputs"
    with pytest.raises(tuner.TunerError, match="the model has 2 inputs but tuner feeds it one array a row"):
        study.run("two_inputs", definition, tmp_path)
    import optuna

    stored = tmp_path / "zoo.db"
    assert not stored.exists() or not optuna.study.get_all_study_names(storage=f"sqlite:///{stored}")


def test_the_zoo_covers_every_training_path_with_and_without_regularization() -> None:
    covered = {(entry.path, entry.l2 > 0 and entry.dropout > 0) for entry in ZOO}
    assert covered >= {(path, regularized) for path in ("shared", "fit") for regularized in (False, True)}
    assert {kind for entry in ZOO for kind in entry.rewiden} == {"keras", "function"}
    assert len({entry.name for entry in ZOO}) == len(ZOO) == len(BY_NAME)
