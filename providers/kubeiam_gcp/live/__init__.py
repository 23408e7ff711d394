"""Live Google Cloud collection: the GCP files of EVIDENCE.md, fetched with the google-cloud clients.

Only this package imports the Google SDKs (inside functions), so reading evidence needs none of them.
See docs/gcp-live.md for the calls made and the permissions they need.
"""

from __future__ import annotations

from kubeiam.pipeline.progress import progress_of
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.model import CoverageError, Inventory

from .clients import Caller, Clients, Pools, Settings
from .plan import Plan, make_plan
from .roles import fetch_predefined_roles, refresh_role_catalogue

__all__ = ["Settings", "collect", "fetch_predefined_roles", "make_plan", "refresh_role_catalogue"]


def collect(request: CollectRequest, inventory: Inventory, *, settings: Settings | None = None) -> list[CoverageError]:
    """Fetch what the inventory's ServiceAccounts, nodes and clusters reference into `request.output`."""
    settings = settings or Settings.from_env()
    plan = make_plan(
        inventory,
        projects=getattr(request.options, "gcp_projects", None),
        namespace=request.namespace,
        service_account=request.service_account,
    )
    errors = list(plan.skipped)
    if not plan.projects:
        return errors
    return errors + run(plan, request, settings)


def run(plan: Plan, request: CollectRequest, settings: Settings) -> list[CoverageError]:
    from google.auth.exceptions import DefaultCredentialsError

    from .collector import Collector

    clients = Clients(settings)
    caller = Caller(settings)
    try:
        if not (settings.rest_endpoint and settings.iam_grpc_endpoint):
            clients.credentials(False)  # fail once, clearly, rather than once per call
    except DefaultCredentialsError as exc:
        # Nothing of Google Cloud can be read: one whole-cloud entry, its cause in one line.
        first = str(exc).strip().split(". ", 1)[0].split("\n", 1)[0][:160]
        reason = f"no Google credentials (google.auth.default): {first}"
        return [CoverageError("gcp", "google.auth.default", reason, None, whole=True)]
    collector = Collector(plan, clients, caller, request.output, progress_of(request))
    with Pools(settings.per_service) as pools:
        collector.run(pools)
    whole = caller.nothing_read()
    if whole is not None:
        return [whole]  # every call failed the same way: one cause, not one entry per call
    collector.write()
    return caller.errors
