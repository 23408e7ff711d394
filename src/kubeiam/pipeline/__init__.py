"""The one audit pipeline: evidence (read or collected live) -> inventory -> findings -> report."""
