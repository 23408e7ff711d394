"""One finding as compact JSON text, fast: the shape `Finding.to_dict()` gives, encoded by the C encoder."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from kubeiam.findings import Finding

compact = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def encoded_findings(findings: Iterable[Finding]) -> Iterator[str]:
    """`compact(f.to_dict())` for each finding, the same text, about twice as fast on a large report.

    Why: a role's findings repeat for every ServiceAccount that takes the role and share one evidence
    mapping (the engine does not copy it), so the evidence, the bulk of each finding, is encoded once
    per distinct mapping and spliced in. The findings are alive while this runs, so `id` is unique.
    """
    shared: dict[int, str] = {}
    for f in findings:
        evidence = f.evidence
        text = shared.get(id(evidence))
        if text is None:
            text = shared[id(evidence)] = compact(evidence if isinstance(evidence, dict) else dict(evidence))
        head = compact(
            {
                "fingerprint": f.fingerprint,
                "rule_id": f.rule_id,
                "category": f.category.value,
                "severity": f.severity.value,
                "title": f.title,
                "cluster": f.cluster,
                "cluster_id": f.cluster_id or f.cluster,
                "namespace": f.namespace,
                "service_account": f.service_account,
                "node": f.node,
                "cloud": f.cloud,
                "principal": f.principal,
            }
        )
        tail = compact({"remediation": f.remediation, "status": f.status, **f.extra})
        yield f'{head[:-1]}, "evidence": {text}, {tail[1:]}'
