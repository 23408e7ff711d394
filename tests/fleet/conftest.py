"""Fixtures for the fleet tests: the store emulators (stores.store_cases) and the demo's per-cluster runs."""

from fleet_helpers import cluster_runs
from stores.store_cases import aws_env, azurite_server, gcs_server, make_case, s3_server

__all__ = ["aws_env", "azurite_server", "cluster_runs", "gcs_server", "make_case", "s3_server"]
