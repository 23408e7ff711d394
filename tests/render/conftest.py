"""Fixtures for the renderer tests (helpers live in render_helpers: conftest names clash across dirs)."""

from render_helpers import evidence, report

__all__ = ["evidence", "report"]
