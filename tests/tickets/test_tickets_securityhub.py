"""`kubeiam tickets --to securityhub`: ASFF through boto3 into moto (with a front for BatchUpdateFindings)."""

from __future__ import annotations

import logging
import math
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tickets_helpers import Quarters, absent_cluster_keys, tickets
from tickets_securityhub_front import SecurityHubFront, findings_by_id

from kubeiam.errors import InputError
from kubeiam_tickets import securityhub

REGION, ACCOUNT = "eu-west-1", "123456789012"  # moto's default account
PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, SecurityHubFront]]:
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    front = SecurityHubFront(port).start()
    try:
        yield f"http://{host}:{port}", front
    finally:
        front.stop()
        moto.stop()


@pytest.fixture
def hub(servers: tuple[str, SecurityHubFront], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """A clean Security Hub (moto reset) and the environment boto3 reads; yields a client through the front."""
    import boto3

    moto_url, front = servers
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).read()
    front.reset()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_ENDPOINT_URL": moto_url, "AWS_ENDPOINT_URL_SECURITYHUB": front.url,
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    client = boto3.client("securityhub", region_name=REGION)
    client.enable_security_hub()
    yield client


def apply(report: Path, *extra: str, page_size: int = 100) -> tuple[int, str]:
    tracker = securityhub.from_environment(None, page_size=page_size)
    return tickets(report, "--to", "securityhub", "--apply", *extra, tracker=tracker)


def test_three_quarters_import_update_archive_and_reactivate(
    hub: Any, servers: tuple[str, SecurityHubFront], quarters: Quarters
) -> None:
    _, front = servers
    q1, q2, q3 = (quarters.doc(p) for p in (quarters.q1, quarters.q2, quarters.q3))
    assert apply(quarters.q1)[0] == 0
    found = findings_by_id(hub)
    assert set(found) == {f"kubeiam/{f['fingerprint']}" for f in q1["findings"]}
    assert all(f["ProductArn"] == PRODUCT and f["RecordState"] == "ACTIVE" for f in found.values())

    assert apply(quarters.q2)[0] == 0
    found = findings_by_id(hub)
    fixed = found[f"kubeiam/{q2['resolved'][0]['fingerprint']}"]
    assert fixed["RecordState"] == "ARCHIVED" and fixed["Workflow"]["Status"] == "RESOLVED"
    raised = next(f for f in q2["findings"] if f["rule_id"] == "AWS-015")
    assert found[f"kubeiam/{raised['fingerprint']}"]["FindingProviderFields"]["Severity"]["Label"] == "HIGH"
    assert sum(f["RecordState"] == "ACTIVE" for f in found.values()) == len(q2["findings"])

    assert apply(quarters.q3, "--close-suppressed")[0] == 0
    found = findings_by_id(hub)
    assert len(found) == len(q1["findings"])  # one finding per fingerprint: the regression reused its Id
    back = found[fixed["Id"]]
    assert back["RecordState"] == "ACTIVE" and back["Workflow"]["Status"] == "NEW"
    accepted = found[f"kubeiam/{quarters.suppressed}"]
    assert (
        accepted["Workflow"]["Status"] == "SUPPRESSED"
        and "node-exporter needs the host network" in accepted["Note"]["Text"]
    )
    live = {i for i, f in found.items() if f["RecordState"] == "ACTIVE" and f["Workflow"]["Status"] == "NEW"}
    assert live == {f"kubeiam/{f['fingerprint']}" for f in q3["findings"] if f["status"] == "open"}
    assert front.calls["BatchUpdateFindings"] == 3  # resolved, reopened, suppressed


def test_the_finding_is_valid_asff(hub: Any, quarters: Quarters) -> None:
    # boto3 validates every request against the service model: a missing required ASFF field fails here.
    assert apply(quarters.q1)[0] == 0
    q1 = quarters.doc(quarters.q1)
    role = next(
        f
        for f in q1["findings"]
        if str(f.get("principal", "")).startswith("arn:aws:iam::") and ":role/" in f["principal"]
    )
    found = findings_by_id(hub)[f"kubeiam/{role['fingerprint']}"]
    assert found["GeneratorId"] == f"kubeiam/{role['rule_id']}" and found["AwsAccountId"] == ACCOUNT
    assert found["Types"] == [f"Software and Configuration Checks/Kubernetes Workload Identity/{role['category']}"]
    assert {"Type": "AwsIamRole", "Id": role["principal"], "Partition": "aws", "Region": REGION} in found["Resources"]
    assert found["ProductFields"]["kubeiam/key"] == role["fingerprint"]
    assert len(found["Description"]) <= 1024 and found["Severity"]["Original"] == role["severity"]


def test_a_rerun_imports_nothing(hub: Any, servers: tuple[str, SecurityHubFront], quarters: Quarters) -> None:
    _, front = servers
    apply(quarters.q1)
    imports = front.calls["BatchImportFindings"]
    code, out = apply(quarters.q1)
    filed = len(quarters.doc(quarters.q1)["findings"])
    assert code == 0 and front.calls["BatchImportFindings"] == imports and f" {filed} unchanged" in out


def test_every_page_is_read(hub: Any, servers: tuple[str, SecurityHubFront], quarters: Quarters) -> None:
    _, front = servers
    apply(quarters.q1)
    before = front.calls["GetFindings"]
    code, out = apply(quarters.q1, page_size=5)
    filed = len(quarters.doc(quarters.q1)["findings"])
    assert code == 0 and f" {filed} unchanged" in out and " 0 create" in out
    assert front.calls["GetFindings"] - before == math.ceil(filed / 5) > 1  # one call per page of five


def test_throttling_is_retried(
    hub: Any, servers: tuple[str, SecurityHubFront], quarters: Quarters, recorded_sleeps: list[float]
) -> None:
    _, front = servers
    front.fault("BatchImportFindings", 429, "TooManyRequestsException", times=2, after=5)
    assert apply(quarters.q1)[0] == 0
    filed = len(quarters.doc(quarters.q1)["findings"])
    assert len(findings_by_id(hub)) == filed
    assert front.calls["BatchImportFindings"] == filed + 2 and len([s for s in recorded_sleeps if s > 0]) >= 2


def test_a_run_stopped_half_way_converges(hub: Any, servers: tuple[str, SecurityHubFront], quarters: Quarters) -> None:
    _, front = servers
    front.fault("BatchImportFindings", 400, "InvalidInputException", times=1, after=3)
    code, _ = apply(quarters.q1)
    assert code == 3 and len(findings_by_id(hub)) == 3
    assert apply(quarters.q1)[0] == 0 and len(findings_by_id(hub)) == len(quarters.doc(quarters.q1)["findings"])


def test_not_rechecked_findings_are_left_as_they_are(
    hub: Any, servers: tuple[str, SecurityHubFront], quarters: Quarters
) -> None:
    _, front = servers
    apply(quarters.q1)
    before = dict(front.calls)
    code, out = apply(quarters.not_rechecked)
    skipped = absent_cluster_keys(quarters.doc(quarters.q1))
    assert code == 0 and skipped and f" {len(skipped)} not re-checked (left as it is)" in out
    assert front.calls["BatchImportFindings"] == before["BatchImportFindings"]
    assert front.calls["BatchUpdateFindings"] == before.get("BatchUpdateFindings", 0)
    assert all(f["RecordState"] == "ACTIVE" for f in findings_by_id(hub).values())


def test_group_by_is_refused(hub: Any, quarters: Quarters) -> None:
    with pytest.raises(InputError, match="--group-by applies to jira and github"):
        tickets(quarters.q1, "--to", "securityhub", "--apply", "--group-by", "service-account")


def test_no_credentials_is_one_line(hub: Any, quarters: Quarters, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    with pytest.raises(InputError, match="securityhub: connect: Unable to locate credentials"):
        tickets(quarters.q1, "--to", "securityhub", "--apply")
