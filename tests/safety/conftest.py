"""Fixtures for the safety tests (helpers live in safety_helpers: conftest names clash across dirs)."""

from safety_helpers import run

__all__ = ["run"]
