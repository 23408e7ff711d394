"""`kubernetes/<cluster>/resources.json` (a `kubectl get -o json` List), its checked objects (`items.py`)
read into the model's types."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubeiam.vocabulary.declarations import Declarations
from kubeiam.vocabulary.model import EnvCredential, Namespace, Node, ServiceAccount, Workload
from kubeiam_kubernetes.evidence.shapes import OWNER_KINDS
from kubeiam_kubernetes.view import ServiceAccountKey

Item = Mapping[str, Any]
"""One Kubernetes object, checked by `items.load_items` (`kind`, `metadata.name`, the fields read here)."""


@dataclass(frozen=True)
class ClusterResources:
    """One cluster's objects, grouped by kind, with the indexes the model's types are built from."""

    name: str
    declarations: Declarations
    """Every provider's: node schemes and credential variables (the Kubernetes provider names no cloud)."""
    by_kind: Mapping[str, list[Item]]
    owners: Mapping[tuple[str, str | None, str], Item]
    """(kind, namespace, name) -> the workload object (Deployment, ReplicaSet, Job...)."""
    secret_keys: Mapping[tuple[str | None, str], set[str]]
    """(namespace, Secret name) -> its key names, lower-cased (never its values)."""

    @staticmethod
    def of(name: str, items: Sequence[Item], declarations: Declarations) -> ClusterResources:
        by_kind: dict[str, list[Item]] = {}
        for item in items:
            by_kind.setdefault(item["kind"], []).append(item)
        owners = {
            (item["kind"], _meta(item).get("namespace"), _meta(item)["name"]): item
            for kind in OWNER_KINDS
            for item in by_kind.get(kind, [])
        }
        secret_keys = {
            (_meta(s).get("namespace"), _meta(s)["name"]): {
                k.lower() for k in (s.get("data") or {}) | (s.get("stringData") or {})
            }
            for s in by_kind.get("Secret", [])
        }
        return ClusterResources(name, declarations, by_kind, owners, secret_keys)

    def cloud(self) -> str | None:
        # Why providerID: it is what the cloud controller manager writes on every node, so it is the one
        # platform signal that a plain `kubectl get nodes -o json` always carries. Schemes: the providers'.
        schemes = self.declarations.node_schemes
        for node in self.by_kind.get("Node", []):
            scheme = str((node.get("spec") or {}).get("providerID", "")).split(":", 1)[0]
            if scheme in schemes:
                return schemes[scheme]
        return None

    def namespaces(self) -> list[Namespace]:
        return [
            Namespace(self.name, _meta(ns)["name"], _str_map(_meta(ns).get("labels")))
            for ns in self.by_kind.get("Namespace", [])
        ]

    def service_accounts(self) -> list[ServiceAccount]:
        out = []
        for sa in self.by_kind.get("ServiceAccount", []):
            meta = _meta(sa)
            automount = sa.get("automountServiceAccountToken")
            out.append(
                ServiceAccount(
                    cluster=self.name,
                    namespace=str(meta.get("namespace") or "default"),
                    name=meta["name"],
                    annotations=_str_map(meta.get("annotations")),
                    labels=_str_map(meta.get("labels")),
                    automount_token=automount if isinstance(automount, bool) else None,
                )
            )
        return out

    def misplaced_annotations(self) -> dict[ServiceAccountKey, dict[str, dict[str, str]]]:
        """Maps under a near-miss of `metadata.annotations` (`annotation:`, `anotations:`).

        Why: a manifest with `metadata.annotation:` (seen in real docs) applies with its
        annotations silently dropped (or is refused); evidence built from such manifests keeps
        them, and they bind nothing. Which keys they hold is for the rules to judge.
        """
        out: dict[ServiceAccountKey, dict[str, dict[str, str]]] = {}
        for sa in self.by_kind.get("ServiceAccount", []):
            meta = _meta(sa)
            for field, value in meta.items():
                if field != "annotations" and isinstance(value, dict) and _near_annotations(field):
                    key = (self.name, str(meta.get("namespace") or "default"), meta["name"])
                    out.setdefault(key, {})[field] = _str_map(value)
        return out

    def nodes(self) -> list[Node]:
        return [
            Node(
                cluster=self.name,
                name=_meta(n)["name"],
                provider_id=(n.get("spec") or {}).get("providerID"),
                labels=_str_map(_meta(n).get("labels")),
            )
            for n in self.by_kind.get("Node", [])
        ]

    def workloads(self) -> list[Workload]:
        out = []
        for pod in self.by_kind.get("Pod", []):
            meta, spec = _meta(pod), pod.get("spec") or {}
            namespace = str(meta.get("namespace") or "default")
            kind, owner = self._top_owner(pod, namespace)
            out.append(
                Workload(
                    cluster=self.name,
                    namespace=namespace,
                    pod=meta["name"],
                    service_account=spec.get("serviceAccountName") or spec.get("serviceAccount") or "default",
                    node=spec.get("nodeName"),
                    owner_kind=kind,
                    owner_name=owner,
                    host_network=bool(spec.get("hostNetwork")),
                    labels=_str_map(meta.get("labels")),
                    credentials=tuple(self._credentials(spec, namespace)),
                )
            )
        return out

    def _top_owner(self, obj: Item, namespace: str) -> tuple[str, str]:
        """Follow controller ownerReferences up to the top workload (Deployment, CronJob...)."""
        kind, name = obj.get("kind", "Pod"), _meta(obj)["name"]
        seen = set()
        while (kind, name) not in seen:
            seen.add((kind, name))
            refs = _meta(obj).get("ownerReferences") or []
            ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
            if not ref or not ref.get("kind") or not ref.get("name"):
                break
            parent = self.owners.get((ref["kind"], namespace, ref["name"]))
            kind, name = ref["kind"], ref["name"]
            if parent is None:
                # The owner object was not collected: derive the usual parent by naming rules.
                if kind == "ReplicaSet":
                    hash_ = (_meta(obj).get("labels") or {}).get("pod-template-hash")
                    if hash_ and name.endswith(f"-{hash_}"):
                        kind, name = "Deployment", name[: -len(hash_) - 1]
                elif kind == "Job":
                    cronjob = _cronjob_of(name, _meta(obj).get("creationTimestamp"))
                    if cronjob:
                        kind, name = "CronJob", cronjob
                break
            obj = parent
        return kind, name

    def _credentials(self, spec: Mapping[str, Any], namespace: str) -> list[EnvCredential]:
        secret_mounts = {
            v.get("name"): (v.get("secret") or {}).get("secretName")
            for v in spec.get("volumes") or []
            if isinstance(v, dict) and v.get("secret")
        }
        found: list[EnvCredential] = []
        containers = [
            *(spec.get("initContainers") or []),
            *(spec.get("containers") or []),
            *(spec.get("ephemeralContainers") or []),  # kubectl debug: same env, same keys
        ]
        for c in containers:
            cname = c.get("name") or ""
            mounts = [(m.get("mountPath") or "", m.get("name")) for m in c.get("volumeMounts") or []]
            for env in c.get("env") or []:
                var = env.get("name")
                if var not in self.declarations.credential_clouds:
                    continue
                cred = _env_credential(cname, var, env, mounts, secret_mounts, self.declarations.file_pointers)
                if cred:
                    found.append(cred)
            for src in c.get("envFrom") or []:
                ref = src.get("secretRef") or {}
                secret = ref.get("name")
                keys = self.secret_keys.get((namespace, secret), set()) if isinstance(secret, str) else set()
                for key in sorted(keys & self.declarations.secret_key_names):
                    var = key.upper()
                    found.append(EnvCredential(cname, var, "envFrom-secret", f"secret/{ref.get('name')}:{key}"))
        return found


def _env_credential(
    container: str,
    var: str,
    env: Mapping[str, Any],
    mounts: list[tuple[str, str | None]],
    secret_mounts: Mapping[str | None, str | None],
    file_pointers: frozenset[str],
) -> EnvCredential | None:
    src = env.get("valueFrom") or {}
    if "secretKeyRef" in src:
        ref = src["secretKeyRef"] or {}
        return EnvCredential(container, var, "secretKeyRef", f"secret/{ref.get('name')}:{ref.get('key')}")
    if "configMapKeyRef" in src:
        ref = src["configMapKeyRef"] or {}
        return EnvCredential(container, var, "configMapKeyRef", f"configmap/{ref.get('name')}:{ref.get('key')}")
    value = env.get("value")
    if not value:
        return None
    if var in file_pointers:
        # A path, not a secret: a credential only when a Secret-backed volume provides the file.
        for path, volume in mounts:
            if volume in secret_mounts and str(value).startswith(path.rstrip("/") + "/"):
                return EnvCredential(container, var, "mounted-file", f"secret/{secret_mounts[volume]} at {value}")
        return None
    return EnvCredential(container, var, "literal", None)


_SCHEDULED_JOB = re.compile(r"^(?P<cronjob>.+)-(?P<minutes>[0-9]{8,10})$")


def _cronjob_of(job: str, created: Any) -> str | None:
    """The CronJob that scheduled `job`, when the Job object itself is not in the evidence.

    Why: the CronJob controller names each Job `<cronjob>-<scheduled time in minutes since the
    epoch>`, so without this every run of a CronJob would be a new subject (a new fingerprint).
    The pod's creation time must fall within a day after that scheduled minute, which rules out
    a hand-made Job that merely ends in digits (`migrate-20240101`).
    """
    m = _SCHEDULED_JOB.match(job)
    if not m or not isinstance(created, str):
        return None
    try:
        started = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None
    delay = started.timestamp() / 60 - int(m["minutes"])
    return m["cronjob"] if 0 <= delay <= 24 * 60 else None


def _near_annotations(field: str) -> bool:
    return bool(difflib.get_close_matches(field.lower(), ["annotations"], n=1, cutoff=0.85))


def _meta(obj: Item) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()} if isinstance(value, dict) else {}
