"""Live Google Cloud collection: the GCP files of EVIDENCE.md, fetched with the google-cloud clients.

Only this package imports the Google SDKs (inside functions), so reading evidence needs none of them.
See docs/gcp-live.md for the calls made and the permissions they need.
"""

from __future__ import annotations

from kubeiam.pipeline.progress import progress_of
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.model import CoverageError, Inventory

from .clients import Caller, Clients, Pools, Settings
from .hierarchy import Hierarchy, Listed
from .plan import Plan, make_plan
from .roles import fetch_predefined_roles, refresh_role_catalogue

__all__ = ["Settings", "collect", "fetch_predefined_roles", "make_plan", "refresh_role_catalogue"]


def collect(request: CollectRequest, inventory: Inventory, *, settings: Settings | None = None) -> list[CoverageError]:
    """Fetch what the inventory's ServiceAccounts, nodes and clusters reference into `request.output`; with
    `--gcp-folder` / `--gcp-organization`, every ACTIVE project under them too (`hierarchy.py`)."""
    settings = settings or Settings.from_env()
    roots = hierarchy_roots(request.options)
    if roots:
        return _central(roots, request, inventory, settings)
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


def hierarchy_roots(options: object) -> tuple[str, ...]:
    """`folders/N` and `organizations/N` of `--gcp-folder` and `--gcp-organization` (the provider's option
    types already wrote them so), in order, each once."""
    given = [*(getattr(options, "gcp_folders", None) or ()), *(getattr(options, "gcp_organizations", None) or ())]
    return tuple(dict.fromkeys(given))


def run(plan: Plan, request: CollectRequest, settings: Settings) -> list[CoverageError]:
    clients, caller = Clients(settings), Caller(settings)
    refused = _no_credentials(clients, settings)
    if refused is not None:
        return [refused]
    return _read(plan, request, clients, caller)


def _central(
    roots: tuple[str, ...], request: CollectRequest, inventory: Inventory, settings: Settings
) -> list[CoverageError]:
    """A central audit: the projects under `roots` (and `--gcp-project`), each read as if given with `--gcp-project`."""
    clients, caller = Clients(settings), Caller(settings)
    refused = _no_credentials(clients, settings)
    if refused is not None:
        return [refused]
    with Pools(settings.per_service) as pools:
        listed = Hierarchy(clients, caller, progress_of(request)).walk(roots, pools)
    plan = make_plan(
        inventory,
        projects=[*(getattr(request.options, "gcp_projects", None) or ()), *listed.projects],
        namespace=request.namespace,
        service_account=request.service_account,
        scope="the projects of --gcp-project, --gcp-folder and --gcp-organization",
    )
    errors = list(plan.skipped)
    if not plan.projects:  # nothing listed: the listing errors (one whole entry if none was answered)
        whole = caller.nothing_read()
        return errors + ([whole] if whole is not None else caller.errors)
    return errors + _read(plan, request, clients, caller, listed)


def _no_credentials(clients: Clients, settings: Settings) -> CoverageError | None:
    from google.auth.exceptions import DefaultCredentialsError

    try:
        if not (settings.rest_endpoint and settings.iam_grpc_endpoint):
            clients.credentials(False)  # fail once, clearly, rather than once per call
    except DefaultCredentialsError as exc:
        # Nothing of Google Cloud can be read: one whole-cloud entry, its cause in one line.
        first = str(exc).strip().split(". ", 1)[0].split("\n", 1)[0][:160]
        reason = f"no Google credentials (google.auth.default): {first}"
        return CoverageError("gcp", "google.auth.default", reason, None, whole=True)
    return None


def _read(
    plan: Plan, request: CollectRequest, clients: Clients, caller: Caller, listed: Listed | None = None
) -> list[CoverageError]:
    from .collector import Collector

    collector = Collector(plan, clients, caller, request.output, progress_of(request), listed)
    with Pools(clients.settings.per_service) as pools:
        collector.run(pools)
    whole = caller.nothing_read()
    if whole is not None:
        return [whole]  # every call failed the same way: one cause, not one entry per call
    collector.write()
    return caller.errors
