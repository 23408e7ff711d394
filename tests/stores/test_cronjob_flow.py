"""What `kubeiam audit --report-dir URL` does with a store, quarter after quarter (the CronJob): the
previous run of the scope is the baseline, the run is written into the store's staging folder and
published; the next quarter sees it as its baseline and as a trend point."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from stores.store_cases import Case

from kubeiam.quarterly.run_index import FINDINGS, MARKER
from kubeiam.quarterly.stores import ReportStore, baseline_from

SCOPE = {"cluster": "eks-prod", "namespace": None, "service_account": None}
DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


def cronjob(store: ReportStore, now: datetime, tmp: Path) -> str:
    """One scheduled run, as the CLI does it with a store: baseline, staging, write, publish."""
    from kubeiam import cli

    tmp.mkdir()
    found = baseline_from(store, SCOPE, tmp)
    baseline = found[0] if found else None
    if found:
        assert found[1] == f"{store.url}/{store.previous(SCOPE)}/findings.json"
    with store.staging(now) as run:
        # The audit writes into `run` as into a local report folder; here through the CLI's own writer.
        argv = ["audit", "--evidence", str(DEMO), "--cluster-name", "eks-prod", "-q", "-f", "json"]
        argv += ["-o", str(tmp / "out.json"), "--report-dir", str(tmp / "local")]
        argv += ["--baseline", str(baseline)] if baseline else []
        assert cli.main(argv) in (0, 1)
        (written,) = (tmp / "local").iterdir()
        for path in written.rglob("*"):
            if path.is_file() and path.name != "run.json":  # the store publishes its own index
                target = run / path.relative_to(written)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
        return store.publish(run, now)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_each_quarter_is_the_next_ones_baseline(make_case: Callable[[str], Case], tmp_path: Path, kind: str) -> None:
    case = make_case(kind)
    q1 = cronjob(case.store("eks-prod"), datetime(2026, 1, 1, 6, tzinfo=UTC), tmp_path / "q1")
    q2 = cronjob(case.store("eks-prod"), datetime(2026, 4, 1, 6, tzinfo=UTC), tmp_path / "q2")
    store = case.store("eks-prod")
    assert store.runs() == [q1, q2] == ["2026-01-01T060000Z", "2026-04-01T060000Z"]
    first, second = store.index(q1), store.index(q2)
    assert first.baseline is None and first.scope == {"cluster": "eks-prod", "namespace": None, "service_account": None}
    total = second.clusters[0].total
    assert second.baseline is not None and second.baseline["unchanged"] == total and second.baseline["new"] == 0
    assert [p["run"] for p in store.trend(second.scope, exclude=q2)] == [q1]
    with store.open_file(q2, FINDINGS) as fh:
        assert all(f["baseline"] == "unchanged" for f in json.load(fh)["findings"])
    if kind == "local":  # a run written in place gets its run.json beside the files the writer left
        assert (Path(case.base_url) / "eks-prod" / q2 / MARKER).is_file()
