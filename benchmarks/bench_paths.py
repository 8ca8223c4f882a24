"""What tuner's own paths are worth, side by side in one run: tuner's store pieces (tuner/store/: the write-back,
the trial insert, the plain-row reads) each against Optuna's own path over the same database, and the code of
another commit against this one.

Each row runs `tuner start` on a study in a fresh store, the variants alternating, `--repeats` times: the fixed
workload (studies/fixed_grid.yaml: 32 grid trials x 10 epochs, no pruning) on SQLite and on PostgreSQL, and digits
and noisy10 as they ship (TPE and pruning, `--trials` trials, the same seed); on request also
`fixed_grid_cnn` (a user's residual CNN from a build function, 16 widths x 10 epochs). A variant changes one thing in the
tuner process itself: `optuna-store` opens the study on `_CachedStorage` where tuner puts its write-back; the
others turn off one piece of the store (benchmarks/store_pieces.py); `at:REV` runs the code of commit REV (from
`git archive`).

    python benchmarks/bench_paths.py                 # about 10 minutes; writes results/paths.{json,md}
    python benchmarks/bench_paths.py --studies fixed_grid --variants tuner at:798c777 --repeats 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import optuna  # noqa: E402
import store_pieces  # noqa: E402
from run import PYTHON, ROOT, launch, trials_of  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
STUDIES = {"fixed_grid": [], "fixed_grid@postgres": [], "digits": ["--seed", "0"], "noisy10": ["--seed", "0"],
           "fixed_grid_cnn": []}  # the last: a user's residual CNN, 16 widths x 10 epochs
RUN = "import sys; from tuner.cli import main; sys.argv[0] = 'tuner'; main()"
VARIANTS = {
    "tuner": None,
    "optuna-store": ("import optuna, tuner.run.session as session\n"
                     "class Cached(optuna.storages._CachedStorage):\n"
                     "    url = property(lambda self: self._backend.url)\n"
                     "session.buffered = Cached\n" + RUN),
    **{name: store_pieces.prelude(name) + RUN for name in store_pieces.PIECES},
}


def at_commit(rev: str, work: Path) -> str:
    """The code of commit `rev` (its tuner package, from `git archive`), run in place of this checkout's."""
    folder = work / f"at-{rev}"
    if not folder.exists():
        folder.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "tuner"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return f"import sys; sys.path.insert(0, {str(folder)!r})\n" + RUN


def one(study: str, variant: str, work: Path, trials: int, extra: list[str]) -> dict[str, Any]:
    file, _, server = study.partition("@")
    name = f"{file}_{variant.replace('-', '_').replace(':', '_')}_{uuid.uuid4().hex[:6]}"
    db = POSTGRES if server else f"sqlite:///{work / f'{name}.db'}"
    code = at_commit(variant[3:], work) if variant.startswith("at:") else VARIANTS[variant]
    head = [PYTHON, "-m", "tuner"] if code is None else [PYTHON, "-c", code]
    args = ["start", str(ROOT / "studies" / f"{file}.yaml"), "--storage", db, "--name", name, *extra]
    if not file.startswith("fixed_grid"):
        args += ["--trials", str(trials)]
    run = launch([*head, *args], work)
    done = [t for t in trials_of(db, name) if t.datetime_complete is not None]
    if server:
        optuna.delete_study(study_name=name, storage=db)
    values = [t.value for t in done if t.value is not None]
    return {"wall_s": run["wall_s"], "train_s": sum(t.user_attrs.get("train_seconds", 0.0) for t in done),
            "epochs": sum(t.user_attrs.get("epochs_run", 0) for t in done), "trials": len(done),
            "best": max(values) if values else None}


def table(rows: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    out = ["| study | variant | runs | wall s (median) | training s (median) | epochs | ms per epoch | best value "
           "| wall / tuner's |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for study, variants in rows.items():
        fast_wall = statistics.median(r["wall_s"] for r in variants["tuner"])
        for variant, runs in variants.items():
            wall = statistics.median(r["wall_s"] for r in runs)
            train = statistics.median(r["train_s"] for r in runs)
            epochs = statistics.median(r["epochs"] for r in runs)
            best = ", ".join(f"{r['best']:.4f}" for r in runs)
            out.append(f"| {study} | {variant} | {len(runs)} | {wall:.1f} | {train:.1f} | {epochs:.0f} | "
                       f"{1000 * train / max(epochs, 1):.1f} | {best} | {wall / fast_wall:.2f}x |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--trials", type=int, default=30, help="trials of the digits and noisy10 rows")
    parser.add_argument("--studies", nargs="+", default=list(STUDIES)[:4], help="default: all but fixed_grid_cnn")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help="as above; at:REV for a commit")
    parser.add_argument("--out", default="paths", help="results/OUT.json and .md (default paths)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    variants = ["tuner", *(v for v in args.variants if v != "tuner")]
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory(prefix="tuner-paths-") as tmp:
        for study in args.studies:
            rows[study] = {v: [] for v in variants}
            for i in range(args.repeats):
                for variant in (variants if i % 2 == 0 else variants[::-1]):
                    got = one(study, variant, Path(tmp), args.trials, STUDIES[study])
                    rows[study][variant].append(got)
                    print(f"{study} {variant} {i + 1}/{args.repeats}: {got['wall_s']:.1f} s wall, "
                          f"{got['train_s']:.1f} s training, {got['epochs']} epochs, {got['trials']} trials",
                          flush=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(rows, indent=1) + "\n")
    (RESULTS / f"{args.out}.md").write_text(table(rows))
    print(table(rows))


if __name__ == "__main__":
    main()
