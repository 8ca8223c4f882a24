"""Which of Optuna's private names tuner uses, and where: imports from Optuna's private modules (a path segment
starting with `_`), private names imported from Optuna, and attributes starting with `_` that Optuna's storage,
study, trial and frozen-trial objects define (on their classes or their instances), accessed anywhere in tuner/.

    python benchmarks/optuna_private.py [-v] [--root DIR]   # a count per file (-v: per name) of DIR/tuner
"""

from __future__ import annotations

import ast
import collections
import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def optuna_private_attributes() -> frozenset[str]:
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
    return frozenset(names)


OPTUNA_BASES = {"RDBStorage", "CachedStorage", "_CachedStorage"}  # classes of Optuna's that tuner's extend


def overrides(tree: ast.AST, private: set[str]) -> list[str]:
    """Private methods of Optuna's that a class extending one of its storages defines again."""
    return [f"override {item.name}" for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            and {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases} & OPTUNA_BASES
            for item in node.body if isinstance(item, ast.FunctionDef) and item.name in private]


def own_names(tree: ast.AST) -> set[str]:
    """Names a file defines itself (functions, methods, attributes it assigns): its own, not Optuna's (a method
    that overrides one of Optuna's counts as Optuna's: see `overrides`)."""
    names = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    names -= {name.split()[-1] for name in overrides(tree, optuna_private_attributes())}
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        names |= {t.attr for t in targets if isinstance(t, ast.Attribute)}
    return names


def uses(path: Path, private: set[str]) -> list[str]:
    """The private Optuna names one file uses: imported ones as module.name, attributes by name."""
    tree = ast.parse(path.read_text())
    found = overrides(tree, private)
    private = private - own_names(tree)
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
    root = Path(sys.argv[sys.argv.index("--root") + 1]) if "--root" in sys.argv else ROOT
    for path in sorted((root / "tuner").rglob("*.py")):
        found = uses(path, private)
        if found:
            per_file[path.relative_to(root)] = len(found)
            per_name.update(found)
    for path, count in per_file.items():
        print(f"{count:4d}  {path}")
    print(f"{sum(per_file.values()):4d}  uses of {len(per_name)} private names in {len(per_file)} files")
    if "-v" in sys.argv:
        for name, count in per_name.most_common():
            print(f"{count:4d}  {name}")


if __name__ == "__main__":
    main()
