"""Live collection of EKS access entries with the real boto3 client against a local server that speaks the
EKS access-entry routes (moto has none): paged, 1 + N + S calls, AccessDenied as coverage, the file the
reader reads."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from kubeiam_aws.live.access_entries import collect_access_entries, wants_access_entries
from kubeiam_aws.live.clients import CallCounter, Clients

_LIST = re.compile(r"^/clusters/(?P<c>[^/]+)/access-entries$")
_ONE = re.compile(r"^/clusters/(?P<c>[^/]+)/access-entries/(?P<arn>[^/]+)$")
_POLICIES = re.compile(r"^/clusters/(?P<c>[^/]+)/access-entries/(?P<arn>[^/]+)/access-policies$")


@dataclass
class EksAccessEntries:
    """ListAccessEntries, DescribeAccessEntry, ListAssociatedAccessPolicies (shapes of the EKS API reference)."""

    entries: dict[str, dict[str, Any]]
    policies: dict[str, list[dict[str, Any]]]
    page: int = 2
    deny: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None

    def start(self) -> EksAccessEntries:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                status, body = server.answer(url.path, query)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status >= 400:
                    self.send_header("x-amzn-ErrorType", body["__type"])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        routes = (
            (_POLICIES, "ListAssociatedAccessPolicies"),
            (_ONE, "DescribeAccessEntry"),
            (_LIST, "ListAccessEntries"),
        )
        found = next(((m, op) for pattern, op in routes if (m := pattern.match(path))), None)
        if found is None:
            return 404, {"__type": "ResourceNotFoundException", "message": path}
        m, op = found
        self.calls.append(op)
        if op in self.deny:
            return 403, {"__type": "AccessDeniedException", "message": "not authorized"}
        start = int(query.get("nextToken") or 0)
        if op == "ListAccessEntries":
            arns = sorted(self.entries)
            return 200, self._paged("accessEntries", arns, start)
        arn = unquote(m["arn"])
        if arn not in self.entries:
            return 404, {"__type": "ResourceNotFoundException", "message": "no such entry"}
        if op == "DescribeAccessEntry":
            return 200, {"accessEntry": self.entries[arn]}
        out = self._paged("associatedAccessPolicies", self.policies.get(arn, []), start)
        return 200, {"clusterName": m["c"], "principalArn": arn, **out}

    def _paged(self, key: str, items: list[Any], start: int) -> dict[str, Any]:
        page: dict[str, Any] = {key: items[start : start + self.page]}
        if start + self.page < len(items):
            page["nextToken"] = str(start + self.page)
        return page


def _entry(arn: str, kind: str = "STANDARD") -> dict[str, Any]:
    return {"clusterName": "prod", "principalArn": arn, "kubernetesGroups": [], "username": arn, "type": kind,
            "createdAt": 1716590782.935, "modifiedAt": 1716590782.935, "tags": {}}  # fmt: skip


def _policy(name: str, scope: str = "cluster", namespaces: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {"policyArn": f"arn:aws:eks::aws:cluster-access-policy/{name}",
            "accessScope": {"type": scope, "namespaces": list(namespaces)}, "associatedAt": 1716590782.935}  # fmt: skip


ROLES = [f"arn:aws:iam::111122223333:role/team-{i}" for i in range(5)]
NODES = "arn:aws:iam::111122223333:role/nodes"


@pytest.fixture
def eks(monkeypatch: pytest.MonkeyPatch) -> Iterator[EksAccessEntries]:
    entries = {arn: _entry(arn) for arn in ROLES} | {NODES: _entry(NODES, "EC2_LINUX")}
    policies = {ROLES[0]: [_policy("AmazonEKSClusterAdminPolicy")], ROLES[1]: [_policy(f"P{i}") for i in range(5)]}
    server = EksAccessEntries(entries, policies).start()
    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "eu-west-1"), ("KUBEIAM_AWS_ENDPOINT_URL", server.url),
                       ("KUBEIAM_AWS_MAX_ATTEMPTS", "1")):  # fmt: skip
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield server
    server.stop()


def _run(eks: EksAccessEntries) -> tuple[dict[str, Any] | None, list[Any], CallCounter]:
    counter = CallCounter()
    clients = Clients(None, "eu-west-1", counter)
    try:
        doc, errors = collect_access_entries(clients, clients.client("eks", "eu-west-1"), "prod", "prod")
    finally:
        clients.close()
    return doc, errors, counter


def test_entries_and_their_policies_are_collected_paged_at_the_lower_bound(
    eks: EksAccessEntries, tmp_path: Path
) -> None:
    doc, errors, counter = _run(eks)
    assert errors == [] and doc is not None
    entries = {e["principalArn"]: e for e in doc["accessEntries"]}
    assert set(entries) == {*ROLES, NODES}
    assert [p["policyArn"].rsplit("/", 1)[1] for p in entries[ROLES[1]]["associatedAccessPolicies"]] == [
        f"P{i}" for i in range(5)
    ]
    assert "associatedAccessPolicies" not in entries[NODES]  # node entries cannot have access policies
    n, standard = len(entries), len(ROLES)
    list_pages = -(-n // eks.page)
    policy_pages = sum(max(1, -(-len(eks.policies.get(a, [])) // eks.page)) for a in ROLES)
    assert counter.as_dict() == {
        "eks:ListAccessEntries": list_pages,
        "eks:DescribeAccessEntry": n,
        "eks:ListAssociatedAccessPolicies": policy_pages,
    }
    assert policy_pages >= standard  # 1 + N + S calls at least, one more per further page


def test_the_collected_file_is_what_the_reader_reads(eks: EksAccessEntries, tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import aws_evidence as aws
    from kubeiam_aws.live.writer import write_json

    doc, _, _ = _run(eks)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kubernetes"))
    import takeover_evidence as te

    from kubeiam.pipeline.audit import read_inventory
    from kubeiam.pipeline.evidence import Evidence
    from kubeiam.pipeline.providers import load_providers

    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=[])
    base = f"aws/{aws.ACCOUNT}/{aws.REGION}/eks/prod"
    cluster = {"name": "prod", "arn": f"arn:aws:eks:{aws.REGION}:{aws.ACCOUNT}:cluster/prod",
               "identity": {"oidc": {"issuer": aws.ISSUER}}, "accessConfig": {"authenticationMode": "API"}}  # fmt: skip
    write_json(tmp_path, f"{base}/cluster.json", {"cluster": cluster})
    write_json(tmp_path, f"{base}/access-entries.json", doc)
    inv = read_inventory(Evidence(tmp_path), load_providers())
    admin = [e for e in inv.external_rbac if f"user:{ROLES[0]}" in e.principals]
    assert admin and admin[0].objects[0]["kind"] == "ClusterRoleBinding"
    unknown = [e for e in inv.errors if "is not one kubeiam models" in e.reason]
    assert len(unknown) == 5  # P0..P4: named, never guessed


def test_access_denied_is_a_coverage_error_and_no_file(eks: EksAccessEntries) -> None:
    eks.deny = {"ListAssociatedAccessPolicies"}
    doc, errors, _ = _run(eks)
    assert doc is None
    (err,) = errors
    assert err.location.startswith("eks:ListAssociatedAccessPolicies prod/") and err.rules == ("K8S-006",)
    assert err.subject == "prod" and "unchecked" in err.reason


def test_a_config_map_only_cluster_is_not_asked() -> None:
    assert not wants_access_entries({"cluster": {"accessConfig": {"authenticationMode": "CONFIG_MAP"}}})
    assert wants_access_entries({"cluster": {"accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}}})
    assert wants_access_entries(None)
