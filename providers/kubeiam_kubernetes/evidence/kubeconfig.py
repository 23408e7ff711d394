"""`kubernetes/<cluster>/kubeconfig.json`: the kubeconfig's entry for the cluster (optional).

What `kubectl config view --minify --output json` prints, without its `users` (credentials); a live
collection writes it. The reader takes one thing from it: the kubeconfig's name for the cluster
(`Cluster.kubeconfig_name`), from which cloud readers derive the cluster's stable id when their own
cluster file is absent. This module does not interpret that name: the cloud providers do.
"""

from __future__ import annotations

from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError
from kubeiam_kubernetes.declarations import KUBERNETES


def load_kubeconfig_name(evidence: Evidence, relative: str, cluster: str) -> tuple[str | None, list[CoverageError]]:
    """The cluster entry's name (None when the file is absent or names none; the latter a coverage error)."""
    doc = evidence.load(relative)
    if doc is None:
        return None, []
    if not isinstance(doc, dict) or not isinstance(doc.get("clusters"), list):
        raise InputError(f"{relative}: not a kubeconfig (kubectl config view --minify -o json): no 'clusters' list")
    name = _cluster_name(doc)
    if name is not None:
        return name, []
    # Fingerprints then use another source of the stable id, or the folder name: findings a previous run
    # made with the kubeconfig's name may look new and resolved, so their cluster is not re-checked.
    reason = "names no single cluster (no current-context naming one of its clusters): the stable cluster id is unknown"
    return None, [CoverageError(KUBERNETES, f"{relative}: clusters", reason, subject=cluster)]


def _cluster_name(doc: dict[str, Any]) -> str | None:
    names = [c.get("name") for c in doc["clusters"] if isinstance(c, dict)]
    current = doc.get("current-context")
    contexts = doc.get("contexts")
    for ctx in contexts if isinstance(contexts, list) else []:
        if isinstance(ctx, dict) and ctx.get("name") == current and isinstance(ctx.get("context"), dict):
            named = ctx["context"].get("cluster")
            if isinstance(named, str) and named in names:
                return named
    # `--minify` keeps the one cluster of the current context.
    if len(names) == 1 and isinstance(names[0], str) and names[0]:
        return names[0]
    return None
