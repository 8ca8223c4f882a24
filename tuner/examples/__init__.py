"""Example study files, installed with tuner as the package `tuner.examples` (see pyproject.toml); the
repository's studies/ is a link to this folder."""
