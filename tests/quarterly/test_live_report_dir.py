"""A live audit with --report-dir collects straight into the run folder (fake Kubernetes API, 127.0.0.1)."""

from __future__ import annotations

import io
import json

from quarterly_helpers import FIXTURE, audit_json

from kubeiam import cli
from kubeiam.render.terminal_progress import TerminalProgress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Recording:
    """The Kubernetes provider, noting the progress object the CLI hands to collection."""

    def __init__(self, inner, seen: list) -> None:
        self._inner, self._seen = inner, seen
        self.name, self.order, self.rules = inner.name, inner.order, inner.rules
        self.declarations = inner.declarations

    def add_arguments(self, group) -> None:
        self._inner.add_arguments(group)

    def read(self, evidence, inventory):
        return self._inner.read(evidence, inventory)

    def collect(self, request, inventory):
        self._seen.append(request.progress)
        request.progress.task("kubernetes: lists", total=1).advance()
        return self._inner.collect(request, inventory)


def test_live_run_collects_into_the_run_folder(kube_api, tmp_path, run_cli, clock, monkeypatch) -> None:
    from kubeiam_kubernetes import PROVIDER

    seen: list = []
    # Only the Kubernetes provider: cloud providers would reach out for the identities the fixture names.
    monkeypatch.setattr(cli, "load_providers", lambda: (_Recording(PROVIDER, seen),))
    for var in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    stream = _Tty()
    monkeypatch.setattr("kubeiam.render.terminal_progress.progress_for", lambda quiet: TerminalProgress(stream))

    api = kube_api(FIXTURE / "kubernetes" / "onprem", max_page=3)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="onprem")
    reports = tmp_path / "audits"
    _, live = audit_json(run_cli, "--kubeconfig", kubeconfig, "--report-dir", reports)

    [run] = list(reports.iterdir())
    assert not (tmp_path / "kubeiam-evidence").exists()  # collected straight into the run folder
    collected = run / "evidence" / "kubernetes"
    [cluster] = [p.name for p in collected.iterdir()]
    assert (collected / cluster / "resources.json").is_file()
    _, offline = audit_json(run_cli, "--evidence", run / "evidence")
    assert [f["fingerprint"] for f in offline["findings"]] == [f["fingerprint"] for f in live["findings"]]
    assert json.loads((run / "findings.json").read_text())["findings"] == live["findings"]
    assert isinstance(seen[0], TerminalProgress) and "kubernetes: lists" in stream.getvalue()
