"""Refresh the predefined-role catalogue from the IAM API (roles.list, view FULL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .clients import Caller, Clients, Settings
from .to_json import rest_json


def fetch_predefined_roles(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every predefined role as `gcloud iam roles describe` prints it (with `includedPermissions`).

    One paged call (1,000 roles a page, about 3 pages today). Raises RuntimeError when the API
    refuses: a partial catalogue would silently drop permissions from every audit that uses it.
    """
    from google.cloud import iam_admin_v1

    settings = settings or Settings.from_env()
    clients, caller = Clients(settings), Caller(settings)

    def list_roles(r: Any, t: float) -> list[Any]:
        request = {"view": iam_admin_v1.RoleView.FULL, "page_size": 1000}  # no parent: the predefined roles
        return list(clients.iam().list_roles(request=request, retry=r, timeout=t))

    found = caller.call("iam", "roles.list", "roles", list_roles)
    if found is None:
        raise RuntimeError("; ".join(f"{e.location}: {e.reason}" for e in caller.errors))
    return [rest_json(r) for r in found]


def refresh_role_catalogue(path: Path | str | None = None, *, settings: Settings | None = None) -> Path:
    """Fetch the predefined roles and write them as a kubeiam role catalogue (the reader's format,
    `kubeiam_gcp.judge.catalogue.write_catalogue`). `path=None` replaces the bundled catalogue; a file
    elsewhere is used by setting `$KUBEIAM_GCP_ROLES` to it. Returns the path written."""
    from kubeiam_gcp.judge.catalogue import write_catalogue

    roles = fetch_predefined_roles(settings)
    return write_catalogue(roles, Path(path) if path is not None else None)
