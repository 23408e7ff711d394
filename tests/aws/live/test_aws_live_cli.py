"""End to end through the CLI: a fake Kubernetes API server, moto and the Pod Identity front server.

`kubeiam collect` + `kubeiam audit --evidence` must give the same findings as the live `kubeiam audit`.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_live_harness import LiveAws


def test_collect_then_audit_evidence_equals_the_live_audit(
    live_aws: LiveAws, kube_api, run_cli, tmp_path: Path
) -> None:
    source = live_aws.evidence("kubernetes-source")
    api = kube_api(source / "kubernetes" / "demo-eks", max_page=3)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="demo", cluster="demo-eks")
    live_args = ["--kubeconfig", str(kubeconfig), "--cluster-name", "demo-eks"]

    code, _, err = run_cli("collect", "--output", str(tmp_path / "ev"), *live_args)
    assert code == 0, err
    assert (tmp_path / "ev/aws/123456789012/iam.json").is_file()
    assert (tmp_path / "ev/aws/123456789012/eu-west-1/eks/demo-eks/pod-identity-associations.json").is_file()
    offline_code, offline_out, _ = run_cli("audit", "--evidence", str(tmp_path / "ev"), "--format", "json")
    live_code, live_out, live_err = run_cli(
        "audit", *live_args, "--format", "json", "--keep-evidence", str(tmp_path / "kept")
    )

    offline, live = json.loads(offline_out), json.loads(live_out)
    fingerprints = {f["fingerprint"] for f in live["findings"]}
    assert {f["fingerprint"] for f in offline["findings"]} == fingerprints
    assert offline_code == live_code == 1, live_err  # the estate carries high findings
    aws_rules = {f["rule_id"] for f in live["findings"] if f["rule_id"].startswith("AWS-")}
    assert len(aws_rules) >= 3, aws_rules  # trust, permissions and node findings, from live AWS data
    # The unreachable roles (another account, another partition) are never reported clean.
    errors = {(e.get("subject"), e["location"]) for e in live["coverage"]["errors"]}
    assert ("demo-eks/partner/sync", "iam:GetRole arn:aws:iam::210987654321:role/partner-sync") in errors
