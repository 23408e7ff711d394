"""The HTML report in headless Chromium with the network disabled: charts laid out, drill-down opens."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kubeiam.render import Format, render
from kubeiam.render.by_service_account import group_findings
from kubeiam.render.html import render_html, subject_id

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class _Dom(HTMLParser):
    """Collects elements' attributes by id and class, and the text of a few ids."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.classes: dict[str, int] = {}
        self.body: dict[str, str | None] = {}
        self.text: dict[str, str] = {}
        self._capture: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if a.get("id"):
            self.by_id[a["id"]] = {"tag": tag, **a}
            self._capture = a["id"]
        for cls in (a.get("class") or "").split():
            self.classes[cls] = self.classes.get(cls, 0) + 1

    def handle_data(self, data) -> None:
        if self._capture:
            self.text[self._capture] = self.text.get(self._capture, "") + data

    def handle_endtag(self, tag) -> None:
        self._capture = None


def _static(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    return dom


def test_html_is_self_contained(report) -> None:
    html = render(report, Format.HTML)
    assert "<link" not in html and " src=" not in html and "@import" not in html and "url(" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    dom = _static(html)
    for chart in ("chart-severity", "chart-category", "chart-namespace", "chart-cloud", "chart-trend"):
        assert chart in dom.by_id
    # One drill-down per subject with findings, each finding with its evidence and remediation.
    assert dom.classes["subject"] == len(group_findings(report.findings))
    assert dom.classes["evidence"] == dom.classes["remediation"] == len(report.findings)
    # The drill-down of one ServiceAccount: identity, what grants it, its finding's evidence.
    legacy = next(f for f in report.findings if f.service_account == "legacy-worker")
    key = (legacy.cluster, legacy.namespace, legacy.service_account, None)
    start = html.index(f'id="{subject_id(key)}"')
    section = html[start : html.index("</details>", start)]
    assert "<h3>Identity</h3>" in section and "<td>payments</td>" in section  # namespace and owner
    assert "Policies and bindings" in section and "Deployment/legacy-worker" in section
    assert "AWS_SECRET_ACCESS_KEY" in section and escape(legacy.remediation) in section


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/test.sh installs Debian's chromium)")
def test_html_renders_charts_and_drilldown_in_headless_chromium(report, tmp_path: Path) -> None:
    trend = [
        {"generated_at": "2025-10-01T00:00:00Z", "by_severity": {"high": 3, "medium": 4}},
        {"generated_at": "2026-01-01T00:00:00Z", "by_severity": {"high": 2, "medium": 2}, "new": 1, "resolved": 3},
    ]
    html = render_html(report, trend=trend)
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    legacy = next(f for f in report.findings if f.service_account == "legacy-worker")
    target = subject_id((legacy.cluster, legacy.namespace, legacy.service_account, None))
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        # No network: every host name fails to resolve and any proxy use goes nowhere.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--window-size=1280,2000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        f"{page.as_uri()}#{target}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _static(done.stdout)
    static = _static(html)

    assert dom.body.get("data-error") is None, dom.body.get("data-error")
    assert dom.body.get("data-ready") == "1", "the report's script did not run"
    # Every chart bar was laid out with a non-zero size by the browser.
    bars = len(re.findall(r'<rect class="bar', html))
    assert bars > 0 and dom.body.get("data-bars-rendered") == str(bars)
    assert dom.by_id["chart-trend"]["data-runs"] == "3"
    # The drill-down named in the URL is open; the filter shows every subject.
    assert dom.by_id[target]["tag"] == "details" and "open" in dom.by_id[target]
    closed = [k for k, v in dom.by_id.items() if v.get("tag") == "details" and k != target and "open" in v]
    assert closed == []
    assert dom.text["shown"].strip() == str(static.classes["subject"])
    assert dom.body.get("data-fits-width") == "true"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/test.sh installs Debian's chromium)")
def test_html_fits_a_narrow_window_with_every_subject_open(tmp_path: Path) -> None:
    """Long ARNs and Azure ids (the demo has both) wrap instead of pushing the page sideways."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from render_helpers import REPO

    from kubeiam.pipeline.audit import audit
    from kubeiam.pipeline.evidence import Evidence
    from kubeiam.pipeline.providers import load_providers
    from kubeiam.quarterly.stages import Stages

    demo = audit(Evidence(REPO / "fixtures" / "demo"), providers=load_providers(), stages=Stages(now=datetime.now(UTC)))
    # A cluster whose id is one long token beside a long name: the id wraps, the name and headers do not.
    long_id = "/subscriptions/" + "8f3c2d1e" * 12 + "/resourceGroups/rg-production-analytics/providers/x/aks-analytics"
    wide = {"name": "production-analytics-westeurope", "cloud": "azure", "id": long_id, "service_accounts": 120000}
    demo = replace(demo, coverage={**demo.coverage, "clusters": [*demo.coverage["clusters"], wide]})
    page = tmp_path / "report.html"
    page.write_text(render_html(demo).replace("<details ", "<details open "), encoding="utf-8")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    cmd += [f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND"]
    cmd += ["--window-size=720,1000", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    body = _static(done.stdout).body
    assert body.get("data-ready") == "1" and body.get("data-fits-width") == "true", done.stderr[-2000:]
    assert body.get("data-words-broken") == "0"  # the coverage table's headers and names stay whole words


def test_policies_and_bindings_name_each_grant_once(report) -> None:
    html = render(report, Format.HTML)
    for grants in re.findall(r'<ul class="grants">(.*?)</ul>', html):
        values = re.findall(r"</code>: (.*?)</li>", grants)
        assert values and len(values) == len(set(values)), values


def test_trend_labels_tell_same_day_runs_apart() -> None:
    from kubeiam.render.html_charts import trend_chart

    points = [
        {"generated_at": "2026-01-15T09:00:00Z", "by_severity": {"high": 2}},
        {"generated_at": "2026-04-15T09:00:00Z", "by_severity": {"high": 1}},
        {"generated_at": "2026-04-15T14:30:00Z", "by_severity": {"high": 1}, "new": 0, "resolved": 1},
    ]
    labels = re.findall(r'text-anchor="middle">([^<]*)</text>', trend_chart(points))
    assert "2026-01-15" in labels and "04-15 09:00" in labels and "04-15 14:30" in labels
    assert "+0 -1" in labels
    # Runs a few seconds apart (a re-run after a fix), or in the same second: still one label each.
    quick = [{"generated_at": s, "by_severity": {"high": 1}} for s in ("2026-04-15T14:30:05Z", "2026-04-15T14:30:41Z")]
    same = [{"generated_at": "2026-04-15T14:31:00Z", "by_severity": {"low": 1}}] * 2
    labels = re.findall(r'text-anchor="middle">([^<]*)</text>', trend_chart(quick + same))
    dated = [label for label in labels if label.startswith("04-15")]
    assert dated == ["04-15 14:30:05", "04-15 14:30:41", "04-15 14:31:00 #1", "04-15 14:31:00 #2"]


def test_the_report_opens_with_the_worst_subjects_expanded(report) -> None:
    html = render(report, Format.HTML)
    opened = re.findall(r'<details id="[^"]*" class="subject" data-rank="(\d)"[^>]*\bopen>', html)
    ranks = [int(r) for r in re.findall(r'<details id="[^"]*" class="subject" data-rank="(-?\d)"', html)]
    assert opened and len(opened) <= 3
    assert {int(r) for r in opened} == {max(ranks)}  # only subjects at the report's worst severity


def test_a_service_account_that_could_not_be_checked_gets_no_severity_badge(report) -> None:
    from dataclasses import replace

    gap = {"cluster": "onprem", "namespace": "web", "service_account": "frontend", "cloud": "aws"}
    gap |= {"principal": "arn:aws:iam::111122223333:role/frontend", "reason": "no AWS evidence"}
    html = render(replace(report, coverage={**report.coverage, "unchecked": [gap]}), Format.HTML)
    section = html[html.index(f'id="{subject_id(("onprem", "web", "frontend", None))}"') :]
    summary = section[: section.index("</summary>")]
    assert ">not checked</span>" in summary and "1 not checked" in summary and "open" not in summary
