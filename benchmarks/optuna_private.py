"""Which of Optuna's private names tuner uses, and where: imports from Optuna's private modules (a path segment
starting with `_`), private names imported from Optuna, and attributes starting with `_` that Optuna's storage,
study, trial and frozen-trial objects define (on their classes or their instances), accessed anywhere in tuner/.

    python benchmarks/optuna_private.py              # a count per file and per name
"""

from __future__ import annotations

import ast
import collections
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def optuna_private_attributes() -> set[str]:
    import optuna
    from optuna.storages import RDBStorage, _CachedStorage

    storage = RDBStorage("sqlite://")
    cached = _CachedStorage(storage)
    study = optuna.create_study(storage=cached)
    trial = study.ask()
    frozen = optuna.trial.create_trial(value=1.0)
    names: set[str] = set()
    for thing in (storage, cached, study, trial, frozen, optuna.samplers.TPESampler(), optuna.pruners.MedianPruner()):
        names |= {n for n in [*dir(type(thing)), *vars(thing)] if n.startswith("_") and not n.startswith("__")}
    return names


def uses(path: Path, private: set[str]) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("optuna"):
            if any(part.startswith("_") for part in node.module.split(".")):
                found += [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr in private:
            found.append(node.attr)
    return found


def main() -> None:
    private = optuna_private_attributes()
    per_file, per_name = {}, collections.Counter()
    for path in sorted((ROOT / "tuner").rglob("*.py")):
        found = uses(path, private)
        if found:
            per_file[path.relative_to(ROOT)] = len(found)
            per_name.update(found)
    for path, count in per_file.items():
        print(f"{count:4d}  {path}")
    print(f"{sum(per_file.values()):4d}  uses of {len(per_name)} private names in {len(per_file)} files")
    if "-v" in sys.argv:
        for name, count in per_name.most_common():
            print(f"{count:4d}  {name}")


if __name__ == "__main__":
    main()
