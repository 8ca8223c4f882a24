"""Example study files, installed with tuner as the package `tuner.examples` (see pyproject.toml)."""
