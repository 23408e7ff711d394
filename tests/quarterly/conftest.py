"""Fixtures for the quarterly-audit tests (helpers live in quarterly_helpers: conftest names clash across dirs)."""

from quarterly_helpers import clock, evidence

__all__ = ["clock", "evidence"]
