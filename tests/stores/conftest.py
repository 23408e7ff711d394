"""Fixtures for the store tests (they live in stores.store_cases: tests/fleet uses them too)."""

from stores.store_cases import aws_env, azurite_server, case, gcs_server, make_case, s3_server

__all__ = ["aws_env", "azurite_server", "case", "gcs_server", "make_case", "s3_server"]
