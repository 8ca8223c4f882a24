"""Where study files are: a path as given; `NAME` in the working folder's `studies/` (or the working folder itself);
else the example of that name installed with tuner (package data `tuner.examples`; the repository's `studies/` links to it)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from tuner.errors import SpecError

SUFFIXES = (".yaml", ".yml")


def examples_dir() -> Path:
    """The folder of the example studies installed with tuner."""
    return Path(str(files("tuner.examples")))


def examples() -> list[str]:
    """The names of the example studies (`tuner start NAME` runs one from any folder)."""
    return sorted(p.stem for p in examples_dir().iterdir() if p.suffix in SUFFIXES)


def find_study_file(study: str) -> Path:
    """`digits`, `studies/digits.yaml` or any path: the study file it names. A study file in the working folder
    wins over the example of the same name."""
    path = Path(study)
    if path.suffix in SUFFIXES:
        return path
    here = [Path("studies") / f"{study}{suffix}" for suffix in SUFFIXES] + [Path(f"{study}{s}") for s in SUFFIXES]
    for candidate in here + [examples_dir() / f"{study}{suffix}" for suffix in SUFFIXES]:
        if candidate.is_file():
            return candidate
    raise SpecError(f"no study file for {study!r} (looked for studies/{study}.yaml here and among the examples: "
                    f"{', '.join(examples())}); give a path to a .yaml file, or write one with "
                    f"`tuner init {study} --csv FILE --target COLUMN`")
