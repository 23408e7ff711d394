"""--report-dir: dated run folders, the evidence kept, the default baseline, the trend; progress bars."""

from __future__ import annotations

import filecmp
import io
import json
import re
from pathlib import Path

from quarterly_helpers import audit_json

from kubeiam.pipeline.progress import NullProgress
from kubeiam.render.terminal_progress import TerminalProgress, progress_for


def test_run_folder_layout_and_trend(tmp_path, run_cli, clock, evidence) -> None:
    reports = tmp_path / "audits"
    audit_json(run_cli, "-e", evidence, "--report-dir", reports)
    code, out, err = run_cli("audit", "-e", evidence, "--report-dir", reports, "-f", "json")
    assert code == 1
    first, second = sorted(reports.iterdir())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{6}Z", first.name) and first.name < second.name
    assert f"report written to {second}" in err
    for run in (first, second):
        assert {p.name for p in run.iterdir()} == {"evidence", "findings.json", "report.html", "summary.md", "run.json"}
        cmp = filecmp.dircmp(evidence, run / "evidence")
        assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    doc = json.loads((second / "findings.json").read_text())
    assert doc == json.loads(out)
    assert doc["baseline"]["source"] == str(first / "findings.json")
    html = (second / "report.html").read_text()
    assert 'data-runs="2"' in html  # the trend covers the earlier run and this one
    summary = (second / "summary.md").read_text()
    assert summary.startswith("# kubeiam audit")
    assert f"{doc['summary']['open']} open finding(s)" in summary
    assert f"{doc['baseline']['new']} new, {doc['baseline']['unchanged']} unchanged" in summary
    assert all(f["fingerprint"] in summary for f in doc["findings"])


def test_a_folder_without_findings_is_not_a_baseline(tmp_path, run_cli, clock, evidence) -> None:
    reports = tmp_path / "audits"
    (reports / "2000-01-01T000000Z").mkdir(parents=True)  # an interrupted run
    _, doc = audit_json(run_cli, "-e", evidence, "--report-dir", reports)
    assert "baseline" not in doc


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_not_quiet() -> None:
    assert isinstance(progress_for(quiet=False, stream=io.StringIO()), NullProgress)
    assert isinstance(progress_for(quiet=True, stream=_Tty()), NullProgress)
    stream = _Tty()
    bars = progress_for(quiet=False, stream=stream)
    assert isinstance(bars, TerminalProgress)
    with bars:
        task = bars.task("aws: roles", total=3)
        task.advance()
        task.advance(2)
        open_ended = bars.task("kubernetes: pods")
        open_ended.advance(5)
        open_ended.done()
        task.done()
    assert "aws: roles" in stream.getvalue()


def test_a_failed_audit_leaves_no_empty_run_folder(tmp_path, run_cli) -> None:
    reports = tmp_path / "audits"
    code, _, err = run_cli("audit", "-e", tmp_path / "missing", "--report-dir", reports)
    assert code == 2 and "--evidence" in err
    assert list(reports.iterdir()) == []


def test_the_evidence_copy_keeps_no_secret_values_and_audits_the_same(tmp_path, run_cli, evidence) -> None:
    path = evidence / "kubernetes" / "onprem" / "resources.json"
    doc = json.loads(path.read_text())
    secret_value, key_id = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAIOSFODNN7EXAMPLE"
    doc["items"].append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "legacy-aws", "namespace": "payments"},
            "data": {"aws_secret_access_key": secret_value},
        }
    )
    for item in doc["items"]:
        if item["kind"] == "Pod" and item["spec"]["serviceAccountName"] == "api":
            item["spec"]["containers"][0]["env"].append({"name": "AWS_ACCESS_KEY_ID", "value": key_id})
            item["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": "legacy-aws"}}]
            item["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(item)}
    path.write_text(json.dumps(doc))
    _, original = audit_json(run_cli, "-e", evidence, "--report-dir", tmp_path / "audits")
    [run] = list((tmp_path / "audits").iterdir())
    copied = "".join(p.read_text() for p in (run / "evidence").rglob("*.json"))
    assert secret_value not in copied and key_id not in copied
    assert "aws_secret_access_key" in copied  # key names stay: they are what the rules look at
    _, again = audit_json(run_cli, "-e", run / "evidence")
    assert [f["fingerprint"] for f in again["findings"]] == [f["fingerprint"] for f in original["findings"]]
    assert any(f["service_account"] == "api" and f["rule_id"] == "K8S-001" for f in original["findings"])


def test_default_baseline_is_the_latest_run_of_the_same_scope(tmp_path, run_cli, clock, evidence) -> None:
    reports = tmp_path / "audits"
    _, full = audit_json(run_cli, "-e", evidence, "--report-dir", reports)
    code, out, _ = run_cli("check", "payments/legacy-worker", "-e", evidence, "--report-dir", reports, "-f", "json")
    assert code == 1
    narrowed = json.loads(out)
    assert narrowed["scope"] == {"namespace": "payments", "service_account": "legacy-worker"}
    assert "baseline" not in narrowed  # the full audit is no baseline for one ServiceAccount
    _, again = audit_json(run_cli, "-e", evidence, "--report-dir", reports)
    first_run = sorted(reports.iterdir())[0]
    assert again["baseline"]["source"] == str(first_run / "findings.json")
    assert {f["baseline"] for f in again["findings"]} == {"unchanged"}
    assert {f["first_seen"] for f in again["findings"]} == {full["generated_at"]}
    # The trend of the full audit leaves the one-ServiceAccount check out: it is no dip in open findings.
    html = (sorted(reports.iterdir())[-1] / "report.html").read_text()
    assert 'data-runs="2"' in html


def _demo_run(run_cli, reports) -> tuple[Path, dict]:
    code, out, _ = run_cli("audit", "--demo", "--report-dir", reports, "-f", "json")
    assert code == 1
    return sorted(reports.iterdir())[-1], json.loads(out)


def test_the_demo_run_writes_each_right_sized_grant_once_per_identity(tmp_path, run_cli, clock) -> None:
    run, doc = _demo_run(run_cli, tmp_path / "audits")
    sized = [f for f in doc["findings"] if "right_sized" in f["evidence"]]
    assert {f["cloud"] for f in sized} == {"aws", "gcp", "azure"}
    files = {p.relative_to(run).as_posix(): p for p in (run / "right-sizing").rglob("*.json")}
    readme = (run / "right-sizing" / "README.md").read_text()
    identities = {(f["cloud"], f["principal"]) for f in sized}
    assert len(files) == len(identities)
    documents = {json.dumps(f["evidence"]["right_sized"]["document"], sort_keys=True) for f in sized}
    assert {json.dumps(json.loads(p.read_text()), sort_keys=True) for p in files.values()} == documents
    for f in sized:
        assert f"{f['cluster']}/{f['namespace']}/{f['service_account']}" in readme
    assert all(p.removeprefix("right-sizing/") in readme for p in files)
    # In each cloud a grant drops an admin or escalation path (AdministratorAccess, roles/editor, Owner).
    dropping = {
        f["cloud"]
        for f in sized
        if any(d.startswith(("admin", "escalation")) for d in f["evidence"]["right_sized"]["drops"])
    }
    assert dropping == {"aws", "gcp", "azure"}
    # Published with the run: run.json records every file, so a change after publication is caught.
    index = json.loads((run / "run.json").read_text())
    assert set(files) | {"right-sizing/README.md"} <= set(index["files"])
    assert doc["usage"]["total"] and doc["summary"]["usage"] == doc["usage"]["total"]
    html = (run / "report.html").read_text()
    assert html.count('class="right-sized"') == len(sized) and 'id="usage"' in html and 'id="by-control"' in html
    assert "## Granted access in use" in (run / "summary.md").read_text()


def test_check_of_the_demo_shows_the_right_sized_grant(run_cli) -> None:
    code, out, _ = run_cli("check", "platform/deployer", "--demo", "-f", "table")
    assert code == 1
    assert "Right-sized grant:" in out and "id-platform-deployer" in out
    assert "\n    - admin: Owner on subscription" in out
    after = out[out.index("in the report folder):\n") + len("in the report folder):\n") :]
    document = json.loads(after[: after.index("\n}\n") + 2])
    _, doc_out, _ = run_cli("check", "platform/deployer", "--demo", "-f", "json")
    [finding] = [f for f in json.loads(doc_out)["findings"] if "right_sized" in f["evidence"]]
    assert document == finding["evidence"]["right_sized"]["document"]


def test_the_trend_of_the_demo_shows_granted_access_in_use_per_run(tmp_path, run_cli, clock) -> None:
    reports = tmp_path / "audits"
    _demo_run(run_cli, reports)
    run, _ = _demo_run(run_cli, reports)
    html = (run / "report.html").read_text()
    table = html[html.index('id="usage-trend"') :].split("</figure>", 1)[0]
    assert table.count("<tr>") == 3  # header, the earlier run, this one
    assert table.count('class="muted">-</td>') == 0  # both runs carry their usage
