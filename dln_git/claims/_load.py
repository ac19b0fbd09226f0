"""Importing this module registers every built-in claim (one module per layer)."""

from . import core, symbolic  # noqa: F401
