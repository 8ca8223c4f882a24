"""The code map's import rules (docs/contributing.md, "Code map") hold: each part of tuner imports only the parts
named on its line, read from the source with ast, and no two parts import each other; Optuna's private names are
reached in one place."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tuner"
# part -> the parts it may import; `errors` and `record` are leaves that every part may use
ALLOWED = {
    "errors": set(),
    "record": set(),
    "backend": set(),
    "interrupt": set(),
    "spec": set(),
    "usercode": {"spec"},
    "data": {"spec", "usercode", "backend"},
    "training": {"data", "usercode", "backend"},
    "store": {"spec"},
    "views": {"spec", "store"},
    "search": {"spec", "usercode", "data", "training", "store", "views", "backend", "interrupt"},
    "run": {"spec", "usercode", "data", "training", "store", "search", "views", "backend", "interrupt"},
    "api": {"run", "views", "store", "spec"},
    "cli": {"api", "run", "views", "store", "spec", "backend", "interrupt"},
    "examples": set(),  # the example studies' models and data scripts: user code, which imports no part of tuner
    "__init__": {"api"},
    "__main__": {"cli"},
}
LEAVES = {"errors", "record"}


def part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_parts(path: Path) -> dict[str, int]:
    """The parts of tuner a module imports (anywhere in it, functions included), with a line of each."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "tuner":
                continue
            names = [parts[1]] if len(parts) > 1 else [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".")[1] for alias in node.names
                     if alias.name.startswith("tuner.") and alias.name.count(".") >= 1]
        else:
            continue
        for name in names:
            found.setdefault(name, node.lineno)
    return found


def edges() -> dict[str, dict[str, str]]:
    """part -> imported part -> where (file:line), between different parts."""
    graph: dict[str, dict[str, str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        part = part_of(path)
        for target, line in imported_parts(path).items():
            if target != part:
                graph.setdefault(part, {}).setdefault(target, f"{path.relative_to(PACKAGE.parent)}:{line}")
    return graph


def test_every_part_is_on_the_code_map() -> None:
    parts = {part_of(p) for p in PACKAGE.rglob("*.py")}
    assert parts <= set(ALLOWED), f"add {sorted(parts - set(ALLOWED))} to the code map and to ALLOWED"


def test_each_part_imports_only_what_the_code_map_allows() -> None:
    wrong = [f"{where}: {part} imports {target}" for part, targets in edges().items()
             for target, where in targets.items() if target not in ALLOWED.get(part, set()) | LEAVES]
    assert not wrong, "\n".join(wrong)


def test_no_two_parts_import_each_other() -> None:
    graph = {part: set(targets) for part, targets in edges().items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(t == goal or (t not in seen and reaches(t, goal, seen | {t})) for t in graph.get(start, ()))

    cycles = sorted(part for part in graph if reaches(part, part, {part}))
    assert not cycles, f"import cycles through {cycles}"


def test_the_rules_can_fail(tmp_path: Path) -> None:
    """A module of `spec` importing `data` is seen, in a function body too."""
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from tuner.data import load_data\n    from tuner import usercode\n")
    assert imported_parts(module) == {"data": 2, "usercode": 3}


def test_both_model_sources_follow_the_model_source_interface() -> None:
    """tuner's stacks and the user's models offer every member of search.source.ModelSource, with its parameters."""
    import inspect

    from tuner.search.models import TunerModels
    from tuner.search.source import ModelSource
    from tuner.search.user_space import UserModels

    members = [name for name in vars(ModelSource) if not name.startswith("_")] + list(ModelSource.__annotations__)
    assert {"sample", "build", "architecture", "check", "builds_to_count"} <= set(members)
    for source in (TunerModels, UserModels):
        for name in members:
            assert hasattr(source, name), f"{source.__name__} has no {name}"
            wanted = getattr(ModelSource, name, None)
            if callable(wanted):
                assert list(inspect.signature(getattr(source, name)).parameters) == \
                    list(inspect.signature(wanted).parameters), f"{source.__name__}.{name}"


def test_only_the_store_internals_and_the_storages_extending_optunas_use_its_private_names() -> None:
    """Optuna's private names (and optuna-dashboard's) are reached through tuner.store.internals; only the two classes
    that extend Optuna's storages (database.py, writeback.py) touch their parents' private parts themselves."""
    spec = importlib.util.spec_from_file_location("optuna_private", PACKAGE.parent / "benchmarks" / "optuna_private.py")
    counter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(counter)
    private = counter.optuna_private_attributes()
    allowed = {"store/internals.py", "store/database.py", "store/writeback.py"}
    users = {str(path.relative_to(PACKAGE)): counter.uses(path, private) for path in sorted(PACKAGE.rglob("*.py"))}
    wrong = {path: found for path, found in users.items() if found and path not in allowed}
    assert not wrong, f"use tuner.store.internals for {wrong}"
    assert users["store/internals.py"]  # the counter sees what it should
