"""A scoped run (`check`, `--namespace`) says about its subjects exactly what the whole audit says.

One finding has one severity, title and evidence whether `audit` or `check` finds it, and `check`
leaves out nothing the audit reports about its ServiceAccount.
"""

from __future__ import annotations

from functools import cache

import pytest

from kubeiam.pipeline.audit import audit, demo_dir
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.report import Report


@cache
def _whole() -> Report:
    return audit(Evidence(demo_dir()))


def _subjects() -> list[tuple[str, str, str]]:
    return sorted(
        {(f.cluster, f.namespace, f.service_account) for f in _whole().findings if f.service_account is not None}
    )


@pytest.mark.parametrize("subject", _subjects(), ids="/".join)
def test_check_reports_what_the_audit_reports_about_its_service_account(subject: tuple[str, str, str]) -> None:
    cluster, namespace, name = subject
    scoped = audit(Evidence(demo_dir()), cluster=cluster, namespace=namespace, service_account=name)
    whole = {f.fingerprint: f for f in _whole().findings}
    own = {f.fingerprint for f in whole.values() if (f.cluster, f.namespace, f.service_account) == subject}
    got = {f.fingerprint: f for f in scoped.findings}
    assert own <= set(got), [whole[fp].rule_id for fp in own - set(got)]
    for fp, f in got.items():
        assert fp in whole, f"{f.rule_id} only in check"
        assert (f.severity, f.title, dict(f.evidence)) == (
            whole[fp].severity,
            whole[fp].title,
            dict(whole[fp].evidence),
        )
