"""What the Kubernetes evidence lacks, and how the reader keeps it from passing as clean.

A cluster folder with neither file is no cluster (the pipeline reports "no cluster evidence" when no
folder holds one); an unreadable file is an `InputError` naming it (`resources.load_items`,
`openid.load_issuer`). What remains is the ServiceAccount that pods name but the evidence lacks.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubeiam.vocabulary.model import ServiceAccount, Workload


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
