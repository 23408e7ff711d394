"""The test harness around a live collection: build the request, run it, read back what it wrote."""

from __future__ import annotations

import argparse
import contextlib
import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_live_estate import Estate
from aws_live_servers import FrontServer

from kubeiam.pipeline.collection import write_collection_errors
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest, declarations_of, load_providers
from kubeiam.vocabulary.model import CoverageError, Inventory


@dataclass
class Run:
    errors: list[CoverageError]
    calls: dict[str, int]
    output: Path
    operations: list[str]
    """What the front server saw (IAM and EKS calls; EC2 goes straight to moto)."""

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def load(self, relative: str) -> Any:
        return json.loads((self.output / relative).read_text())


@dataclass
class LiveAws:
    moto_url: str
    front: FrontServer
    estate: Estate
    tmp: Path

    def evidence(self, name: str = "evidence", kubeconfig_name: str | None = None) -> Path:
        """A fresh evidence directory holding the Kubernetes half of the estate; with `kubeconfig_name`,
        the kubeconfig entry a live collection records (`kubeconfig.json`, `kubectl config view --minify`)."""
        root = self.estate.write_kubernetes(self.tmp / name)
        if kubeconfig_name:
            entry = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": kubeconfig_name, "cluster": {"server": "https://127.0.0.1:6443"}}],
                "contexts": [{"name": "demo", "context": {"cluster": kubeconfig_name, "user": "demo"}}],
                "current-context": "demo",
            }
            (root / "kubernetes" / self.estate.cluster / "kubeconfig.json").write_text(json.dumps(entry))
        return root

    def inventory(self, root: Path) -> Inventory:
        from kubeiam_kubernetes import PROVIDER as KUBERNETES

        # As the pipeline starts a read: with every provider's declarations (node schemes, annotations).
        return KUBERNETES.read(Evidence(root), Inventory(declarations=declarations_of(load_providers())))

    def collect(
        self,
        *,
        service_account: tuple[str, str] | None = None,
        namespace: str | None = None,
        root: Path | None = None,
        progress: object | None = None,
        **options: Any,
    ) -> Run:
        from kubeiam_aws.live import CallCounter, collect

        root = root or self.evidence(f"ev{len(list(self.tmp.iterdir()))}")
        counter = CallCounter()
        # Usage data (AWS-024) only when a test asks for it: the call budgets here are of the rest.
        options.setdefault("aws_usage", False)
        request = CollectRequest(
            options=argparse.Namespace(**options),
            output=root,
            namespace=namespace,
            service_account=service_account,
            progress=progress,
        )
        self.front.log.clear()
        errors = collect(request, self.inventory(root), counter)
        write_collection_errors(root, errors)  # as the pipeline keeps them: an audit of `root` sees them
        return Run(list(errors), counter.as_dict(), root, list(self.front.log))


READONLY_POLICY = "data/kubeiam-readonly-policy.json"


def readonly_policy() -> dict[str, Any]:
    """The identity policy kubeiam documents for live collection, as the package ships it."""
    from importlib.resources import files

    return json.loads(files("kubeiam_aws").joinpath(READONLY_POLICY).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def policy_actions(document: dict[str, Any]) -> set[str]:
    return {a for s in document["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


@contextmanager
def enforcing(live: LiveAws, monkeypatch: pytest.MonkeyPatch, document: dict[str, Any]) -> Iterator[None]:
    """moto judging every call (signature and permission) against `document`, the only policy of the
    caller, an IAM user whose key the collection then uses. The front server judges the Pod Identity
    routes it answers itself by the same actions."""
    import boto3

    iam = boto3.client("iam", region_name=live.estate.region, endpoint_url=live.moto_url)  # (auth still off)
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName=AUDITOR)
    iam.put_user_policy(UserName=AUDITOR, PolicyName="kubeiam-readonly", PolicyDocument=json.dumps(document))
    for old in iam.list_access_keys(UserName=AUDITOR)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=AUDITOR, AccessKeyId=old["AccessKeyId"])
    key = iam.create_access_key(UserName=AUDITOR)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    live.front.allowed = policy_actions(document)
    _sign_bodyless_requests_as_sent(monkeypatch)
    _moto_auth(live.moto_url, "0")  # from the next request on
    try:
        yield
    finally:
        _moto_auth(live.moto_url, "inf")
        live.front.allowed = None


AUDITOR = "kubeiam-auditor"


def _sign_bodyless_requests_as_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto (5.x) checks the signature of a GET (every EKS read) over its parsed headers instead of
    the empty payload the SDK signed, and so refuses it (SignatureDoesNotMatch). Its server runs in
    this process: check such requests over the empty payload, as AWS does."""
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase._create_aws_request

    def as_sent(self: Any) -> Any:
        if self._method not in ("GET", "HEAD", "DELETE") or self._body:
            return original(self)
        parsed, self._data = self._data, b""
        try:
            return original(self)
        finally:
            self._data = parsed

    monkeypatch.setattr(IAMRequestBase, "_create_aws_request", as_sent)


def _moto_auth(moto_url: str, count: str) -> None:
    """moto's server-mode switch: enforce IAM after `count` more requests (`inf`: never)."""
    request = urllib.request.Request(
        f"{moto_url}/moto-api/reset-auth", data=count.encode(), method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 200
