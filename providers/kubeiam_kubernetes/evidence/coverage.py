"""What the Kubernetes evidence lacks, and how the reader keeps it from passing as clean.

- A cluster folder without `resources.json` (only its issuer or kubeconfig entry, or nothing at all): the
  cluster is known, its objects are not. Nothing of it was audited: a coverage error with the cluster as
  subject and `whole`, so the run cannot pass and a baseline's findings there are `not_rechecked`.
- An unreadable file is an `InputError` naming it (`items.load_items`, `openid.load_issuer`); one object or
  field that cannot be read is a coverage error naming it (`items.py`).
- The ServiceAccount that pods name but the evidence lacks is kept as an implicit subject.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kubeiam.vocabulary.model import CoverageError, ServiceAccount, Workload
from kubeiam_kubernetes.declarations import KUBERNETES


def absent_resources(cluster: str, relative: str, present: Sequence[str]) -> CoverageError:
    """The cluster's objects were not read: `relative` (its resources.json) is absent; `present`: what is there."""
    there = f"the folder holds only {', '.join(present)}" if present else "the cluster folder is empty"
    return CoverageError(
        KUBERNETES,
        relative,
        f"absent ({there}): none of the cluster's ServiceAccounts, pods or nodes was read",
        subject=cluster,
        whole=True,
    )


def implicit_service_accounts(known: Iterable[ServiceAccount], workloads: Iterable[Workload]) -> list[ServiceAccount]:
    """ServiceAccounts that only pods name (not collected, or deleted), as `implicit` subjects.

    Why keep them: the pods still run with that name's token, so they are audited rather than dropped.
    """
    seen = {sa.key for sa in known}
    out = []
    for w in workloads:
        key = (w.cluster, w.namespace, w.service_account)
        if key not in seen:
            seen.add(key)
            out.append(ServiceAccount(w.cluster, w.namespace, w.service_account, implicit=True))
    return out
