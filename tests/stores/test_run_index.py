"""run.json: the index of a run, built from its findings.json in one streaming pass."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kubeiam.quarterly.run_index import RunIndex, UnreadableRun, index_report

DEMO_REPORT_ARGS = ["audit", "--demo", "-q", "-f", "json"]


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from kubeiam import cli

    out = tmp_path_factory.mktemp("demo") / "report.json"
    assert cli.main([*DEMO_REPORT_ARGS, "-o", str(out)]) == 1
    return out.read_bytes()


def test_the_index_counts_what_the_report_says(demo_report: bytes) -> None:
    doc = json.loads(demo_report)
    index = index_report(io.BytesIO(demo_report), "r1", "findings.json")
    assert index.generated_at == doc["generated_at"] and index.scope is None and index.run == "r1"
    assert index.summary == doc["summary"]
    by_cluster = {c.name: c for c in index.clusters}
    for c in doc["coverage"]["clusters"]:
        mine = [f for f in doc["findings"] if f["cluster"] == c["name"]]
        got = by_cluster[c["name"]]
        assert got.id == c["id"] and got.service_accounts == c["service_accounts"]
        assert got.total == len(mine) and got.open == sum(f["status"] == "open" for f in mine)
        assert got.by_severity == {
            s: sum(f["severity"] == s and f["status"] == "open" for f in mine) for s in doc["summary"]["by_severity"]
        }
    assert sum(c.total for c in index.clusters) == doc["summary"]["total"]


def test_the_index_survives_its_json_round_trip(demo_report: bytes) -> None:
    index = index_report(io.BytesIO(demo_report), "r1", "findings.json")
    again = RunIndex.from_json(index.to_json(), "run.json")
    assert again == index


def test_coverage_gaps_count_for_the_cluster_they_name_or_for_every_cluster() -> None:
    doc = {
        "generated_at": "2026-11-01T00:00:00Z",
        "findings": [
            {"cluster": "a", "severity": "high", "status": "open", "baseline": "new"},
            {"cluster": "a", "severity": "low", "status": "suppressed"},
            {"cluster": "b", "severity": "critical", "status": "open", "evidence": {"cluster": "zz", "severity": "x"}},
        ],
        "resolved": [{"cluster": "b"}, {"cluster": "b"}],
        "not_rechecked": [{"cluster": "a"}],
        "coverage": {
            "clusters": [{"name": "a", "id": "ida"}, {"name": "b", "id": None}],
            "unchecked": [{"cluster": "a", "namespace": "n", "service_account": "s"}],
            "errors": [{"source": "k", "subject": "b/ns/sa"}, {"source": "cloud", "subject": "123456789012"}],
            "unreadable": [{"source": "k", "subject": "a"}],
        },
        "summary": {},
    }
    a, b = index_report(io.BytesIO(json.dumps(doc).encode()), "r", "f").clusters
    assert (a.total, a.open, a.suppressed, a.new, a.not_rechecked, a.resolved) == (2, 1, 1, 1, 1, 0)
    assert (b.total, b.open, b.by_severity["critical"], b.resolved) == (1, 1, 1, 2)  # nested evidence is not counted
    assert (a.unchecked, a.errors, a.unreadable) == (1, 1, True)  # the account error may hide findings of any
    assert (b.unchecked, b.errors, b.unreadable) == (0, 2, False)
    assert not a.complete and not b.complete and b.key == "b" and a.key == "ida"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[1, 2]", "not an object"),
        (b'{"findings": [', "not valid JSON"),
        (b'{"findings": []}', "no generated_at or coverage"),
        (b"", "not valid JSON"),
    ],
)
def test_what_is_not_a_report_is_one_error_naming_the_file(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableRun, match=message) as err:
        index_report(io.BytesIO(data), "r", "s3://b/r/findings.json")
    assert str(err.value).startswith("s3://b/r/findings.json: ") and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "data",
    [b"not json", b'{"kubeiam_run": 2}', b'{"kubeiam_run": 1, "run": "r"}', b'{"kubeiam_run": 1, "run": 5}'],
)
def test_a_damaged_run_json_is_one_error(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(UnreadableRun, match=r"^x/run\.json: "):
        RunIndex.from_json(data, "x/run.json")
