"""`kubernetes/<cluster>/resources.json` loaded: the objects the reader can read, and what it cannot.

Exit 2 (`InputError`) only when the file is not a Kubernetes List at its top level. Below that, one
object (or one field of it) that is not what `kubectl get -o json` prints is a coverage error naming
the file and the item (`items[12].metadata.annotations`), with the subject it leaves unchecked; the
rest of the cluster is read. A List that is one page of a longer one says which pages are missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError
from kubeiam_kubernetes.declarations import KUBERNETES
from kubeiam_kubernetes.evidence.shapes import (
    METADATA,
    OWNER_KINDS,
    Mismatch,
    Path,
    describe,
    mismatches,
    prune,
    render,
    shape_of,
)

Item = dict[str, Any]
"""One Kubernetes object as `kubectl get -o json` prints it, checked: `kind`, `metadata.name` strings, and
the fields the reader reads of the right type (the others removed, and named in `errors`)."""

_RUNS_AS = (("spec",), ("spec", "serviceAccountName"), ("spec", "serviceAccount"))
POLICY_KINDS = frozenset({"NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"})


@dataclass(frozen=True)
class ResourcesFile:
    """What `load_items` read of one file (filled as it reads)."""

    items: list[Item] = field(default_factory=list)
    unreadable_policies: list[Item] = field(default_factory=list)
    """Network policies with a field of the wrong type: what they allow is unknown, so they block nothing."""
    errors: list[CoverageError] = field(default_factory=list)


def load_items(evidence: Evidence, relative: str, cluster: str) -> ResourcesFile | None:
    """The file's objects (a single object is a list of one); None when the file is absent."""
    doc = evidence.load(relative)
    if doc is None:
        return None
    if isinstance(doc, dict) and "items" in doc:
        raw = doc["items"]
    elif isinstance(doc, dict) and "kind" in doc and "metadata" in doc:
        raw = [doc]  # a single object is a list of one
    else:
        raise InputError(f"{relative}: expected a Kubernetes List (kubectl get ... -o json)")
    if not isinstance(raw, list):
        raise InputError(f"{relative}: field 'items' must be a list")
    out = ResourcesFile()
    reading = _Reading(relative, cluster, out)
    if raw is not doc:
        reading.pages(doc)
    # A typed list (`PodList`, what `kubectl get --raw /api/v1/pods` prints) leaves kind and apiVersion
    # off its items: they are the list's.
    listed = doc.get("kind")
    typed = listed[: -len("List")] if isinstance(listed, str) and listed.endswith("List") and listed != "List" else None
    for i, item in enumerate(raw):
        if typed and isinstance(item, dict) and "kind" not in item:
            item = {"kind": typed, "apiVersion": doc.get("apiVersion"), **item}
        reading.item(i, item)
    return out


@dataclass(frozen=True)
class _Reading:
    location: str
    cluster: str
    out: ResourcesFile

    def pages(self, doc: Mapping[str, Any]) -> None:
        """One page of a paged list (`limit`, a raw API page, kubectl's chunks cut short): the rest is missing."""
        meta = doc.get("metadata")
        if meta is None:
            return
        if not isinstance(meta, dict):
            self.error(("metadata",), f"{describe(meta)}, not a map: whether the list is complete is unknown")
            return
        token, remaining = meta.get("continue"), meta.get("remainingItemCount")
        more = isinstance(remaining, int | float) and not isinstance(remaining, bool) and remaining > 0
        if token or more:
            count = f"{remaining} more item(s)" if isinstance(remaining, int) and more else "more items"
            field = "metadata.continue" if token else "metadata.remainingItemCount"
            self.out.errors.append(
                CoverageError(
                    KUBERNETES,
                    f"{self.location}: {field}",
                    f"one page of a longer list: the pages after it ({count}) were not read; "
                    "list without --chunk-size or limit, or follow continue to the end",
                    subject=self.cluster,
                )
            )

    def item(self, i: int, item: Any) -> None:
        where: Path = ("items", i)
        if not isinstance(item, dict):
            return self.error(where, f"{describe(item)}, not a Kubernetes object: not read")
        kind = item.get("kind")
        if not isinstance(kind, str) or not kind:
            return self.error((*where, "kind"), f"kind is {describe(kind)}: the object was not read")
        meta = item.get("metadata")
        if not isinstance(meta, dict):
            return self.error((*where, "metadata"), f"metadata is {describe(meta)}, not a map: the {kind} was not read")
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            return self.error(
                (*where, "metadata", "name"), f"metadata.name is {describe(name)}: the {kind} was not read"
            )
        bad_meta = mismatches(meta, METADATA, ("metadata",))
        if bad_meta:
            return self.errors(i, bad_meta, f"the {kind} {name} was not read")
        if kind == "Pod" and item.get("spec") is None:  # kubectl always prints it; "default" would be a guess
            why = f"spec is missing: the pod {name} was not read: which ServiceAccount it runs as is unknown"
            return self.error((*where, "spec"), why)
        found = mismatches(item, shape_of(kind))
        if not found:
            self.out.items.append(item)
            return None
        if kind in POLICY_KINDS:
            self.errors(i, found, "what the policy allows is unknown: it is not counted as blocking IMDS")
            self.out.unreadable_policies.append(item)
            return None
        if kind in OWNER_KINDS:
            # Read as not collected: the pods it owns are named by the naming rules of their controllers.
            return self.errors(
                i, found, f"the {kind} {name} was not read: its pods' workload is named from their names"
            )
        if kind == "Pod" and any(m.path[:2] in _RUNS_AS for m in found):
            # Which ServiceAccount it runs as is unknown: `default` would put its findings on another subject.
            return self.errors(i, found, f"the pod {name} was not read: which ServiceAccount it runs as is unknown")
        subject, consequence = _effect(self.cluster, kind, item)
        for m in found:
            self.error((*where, *m.path), f"{_said(m)}: {consequence(m.path)}", subject)
        prune(item, found)
        self.out.items.append(item)
        return None

    def errors(self, i: int, found: list[Mismatch], consequence: str) -> None:
        for m in found:
            self.error(("items", i, *m.path), f"{_said(m)}: {consequence}")

    def error(self, path: Path, reason: str, subject: str | None = None) -> None:
        self.out.errors.append(
            CoverageError(KUBERNETES, f"{self.location}: {render(path)}", reason, subject=subject or self.cluster)
        )


def _said(m: Mismatch) -> str:
    """`spec.containers is a map, not a list`: the field by name, so a grouped coverage line says which."""
    return f"{render(m.path)} is {m.found}, not {m.expected}"


def _effect(cluster: str, kind: str, item: Item) -> tuple[str, Callable[[Path], str]]:
    """Whom a wrong field leaves unchecked, and what of it (by the field's path in the object)."""
    meta = item["metadata"]
    namespace = meta.get("namespace") or "default"
    if kind == "ServiceAccount":
        return f"{cluster}/{namespace}/{meta['name']}", _service_account_effect
    if kind == "Pod":
        spec = item.get("spec") or {}
        sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        return f"{cluster}/{namespace}/{sa}", _pod_effect
    if kind == "Node":
        return f"{cluster}/node/{meta['name']}", lambda path: "the node's platform and labels are unchecked"
    if kind == "Namespace":
        # Namespace labels name owners; they decide no finding, so they hide none.
        return f"{cluster}/{meta['name']}", lambda path: "the namespace's ownership labels are unchecked"
    # Secrets hold the key names envFrom credentials are found by.
    return cluster, lambda path: f"read as absent: what depends on this {kind} is unchecked"


def _service_account_effect(path: Path) -> str:
    if path[:2] == ("metadata", "annotations"):
        return "the ServiceAccount's workload-identity annotations are unchecked"
    if path[:2] == ("metadata", "labels"):
        return "the ServiceAccount's labels are unchecked"
    return "read as not set: the token is mounted"


def _pod_effect(path: Path) -> str:
    if path[:1] == ("metadata",):
        return (
            "the pod's workload (its owner) is unchecked"
            if "ownerReferences" in path
            else "the pod's labels are unchecked"
        )
    field = path[1] if len(path) > 1 else ""
    if field == "hostNetwork":
        return "whether the pod shares the node's network is unchecked"
    if field == "nodeName":
        return "the node the pod runs on is unchecked"
    return "the pod's cloud credentials are unchecked"
