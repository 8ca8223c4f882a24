"""What an export writes beside the retrained model (tuner.run.export): the trial it is of, its model card, its
file names; and the trial table as CSV. Reads the store; never imports Keras."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner import record
from tuner.errors import TunerError
from tuner.store import outline, studies
from tuner.views.format import fmt

MODEL_FILE = "model.keras"
PARAMS_FILE = "hyperparams.json"
CARD_FILE = "MODEL_CARD.md"
CLASSES_FILE = "classes.json"
PICK = "int(np.argmax(p[0]))"  # how the card's snippet reads a class from the prediction p of one row


def pick_trial(study: optuna.Study, number: int | None) -> FrozenTrial:
    """The chosen trial, or the best one; it must have completed."""
    from tuner.views.summary import best_trial_whole

    if number is None:
        trial = best_trial_whole(study)
        if trial is None:
            raise TunerError(f"study {study.study_name!r} has no complete trial to export; run more trials first")
        return trial
    trials = outline.trials(study)
    if not 0 <= number < len(trials):
        raise TunerError(f"study {study.study_name!r} has no trial {number} (trials 0..{len(trials) - 1}); "
                         f"pick one from `tuner status {study.study_name}`")
    trial = outline.whole(study, [trials[number]])[0]
    if trial.state != TrialState.COMPLETE:
        reason = trial.user_attrs.get(record.FAIL_REASON)
        raise TunerError(f"trial {number} of {study.study_name!r} is {trial.state.name.lower()}"
                         f"{f' ({reason})' if reason else ''}; export a complete trial (omit --trial for the best)")
    return trial


def model_card(card: record.ModelCard, rows: list[record.LayerRow], description: str) -> str:
    d = card.data
    in_units = f" (in {card.units})" if card.units else ""
    refit = card.refit
    if refit == "all":
        test = f"- no unseen score: this model also trained on the {d['test'][0]} test rows (refit: all)" \
            if d.get("test") else "- no test rows (data.test_split: 0)"
    elif card.test is not None:
        test = (f"- {card.test_metric}: {card.test:.4f} on {d['test'][0]} test rows that no trial trained, was "
                f"pruned or was chosen on" + (", and this model never trained on" if refit == "yes" else ""))
    else:
        test = "- no test rows (data.test_split: 0)"
    score = f"- {card.metric} ({card.direction}){in_units}: {card.recorded:.4f} in the study, "
    if refit == "no":
        scores = [score + f"{card.reproduced:.4f} retrained here (seed {card.seed}, {card.epochs} epochs, "
                  f"on the trial's own training rows)"]
    else:
        scores = [score + f"the trial's score on the {d['validation'][0]} validation rows (it trained on the "
                  f"{d['train'][0]} training rows)",
                  f"- this model: the trial retrained on the {card.trained_rows} {card.trained_on} rows "
                  f"(seed {card.seed}, {card.epochs} epochs: the trial's best epoch count scaled to these rows; "
                  f"`refit: no` exports the trial as it ran)"]
    lines = [f"# {card.study}, trial {card.trial}", "", description or "", "",
             "## Data", "",
             f"- set: {d['name']} ({d['task']}), {d['train'][0]} training / {d['validation'][0]} validation rows, "
             f"{d['features']} features" + (f" shaped {d['shape']}" if d.get("shape") else ""),
             f"- classes: {len(card.classes)}, names in `{CLASSES_FILE}` in the order of the model's outputs"
             if card.classes else f"- target: {d.get('target', 'one number')}, predicted in its own units",
             *(f"- {line}" for line in card.input_lines),
             "", "## Metric", "",
             *scores, test,
             "", "## Architecture", "",
             f"{card.hyperparams['family']} layers, activation {card.hyperparams['activation']}, "
             f"learning rate {card.hyperparams['learning_rate']:g}, batch size "
             f"{card.hyperparams['batch_size']}; **{card.n_params} parameters**", "",
             "| layer | units | parameters | dropout | L2 |", "|---|---|---|---|---|"]
    lines += [f"| {r.layer} | {fmt(r.units)} | {r.params} | {fmt(r.dropout)} | {fmt(r.l2)} |"
              for r in rows]
    if card.images:
        shape = card.raw_shape
        divided = " (the division by 255 is its first layer)" if card.scaling.startswith("scaled") else ""
        lines += ["", "## Use", "", f"`{MODEL_FILE}` takes images of {shape[0]} x {shape[1]} pixels with {shape[2]} "
                  f"channel(s), pixel values 0-255 as they are read{divided}.", "",
                  "```python", "import json, keras, numpy as np",
                  f"model, classes = keras.models.load_model(\"{MODEL_FILE}\"), json.load(open(\"{CLASSES_FILE}\"))",
                  f"image = keras.utils.img_to_array(keras.utils.load_img(\"digit.png\", "
                  f"color_mode=\"{'grayscale' if shape[2] == 1 else 'rgb'}\", target_size=({shape[0]}, {shape[1]})))",
                  "p = model.predict(image[None], verbose=0)", f"print(classes[{card.pick or PICK}])", "```", ""]
        return "\n".join(lines)
    dtype, shape, scaled = card.dtype, card.raw_shape, card.scaling.startswith("scaled")
    row = ", ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in card.example)
    if shape:  # a loader's rows: in their own shape and dtype
        x = f"np.array([{row}], dtype=\"{dtype}\").reshape(1, {', '.join(str(n) for n in shape)})"
        lines += ["", "## Use", "", f"`{MODEL_FILE}` takes inputs as the loader gives them: {dtype}, shaped "
                  f"{tuple(shape)} a row; {card.scaling}{', as its first layer' if scaled else ''}.", "",
                  "```python"]
    else:
        x = f"np.array([[{row}]])" if dtype.startswith("float") else f"np.array([[{row}]], dtype=\"{dtype}\")"
        how = "the scaling fitted on the training rows is its first layer" if scaled else f"{dtype}, {card.scaling}"
        lines += ["", "## Use", "",
                  f"`{MODEL_FILE}` takes raw input rows, as in the data the study was tuned on ({how}), "
                  f"{len(card.inputs)} values a row, in this order:", "",
                  ", ".join(f"`{name}`" for name in card.inputs), "", "```python"]
    if card.classes:
        lines += ["import json, keras, numpy as np",
                  f"model, classes = keras.models.load_model(\"{MODEL_FILE}\"), json.load(open(\"{CLASSES_FILE}\"))",
                  f"p = model.predict({x}, verbose=0)", f"print(classes[{card.pick or PICK}])"]
    else:
        lines += ["import keras, numpy as np", f"model = keras.models.load_model(\"{MODEL_FILE}\")",
                  f"print(float(model.predict({x}, verbose=0)[0, 0]))  # {d.get('target', '')}"]
    lines += ["```", ""]
    return "\n".join(lines)


def export_trials(study: optuna.Study, path: Path) -> int:
    """The trial table (number, state, values, params, recorded attributes) as CSV; returns the row count."""
    frame = study.trials_dataframe(attrs=("number", "state", "value", "datetime_start", "duration", "params",
                                          "user_attrs"), multi_index=False)
    frame = frame.drop(columns=[f"user_attrs_{a}" for a in record.LIST_ATTRS if f"user_attrs_{a}" in frame.columns])
    metric = study.user_attrs.get(record.METRIC, "metric")
    objectives = [metric if name == "metric" else name for name in studies.definition(study).spec.objectives]
    names = {"value": f"value_{metric}", **{f"values_{i}": f"value_{name}" for i, name in enumerate(objectives)}}
    frame.columns = [names.get(c, c).removeprefix("user_attrs_") for c in frame.columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return len(frame)
