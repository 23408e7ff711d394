"""The report-store contract, the same for a local folder, S3 (moto), Cloud Storage (fake-gcs-server) and
Azure Blob (Azurite): a published run reads back whole; the previous run of a scope is found; a run being
written is never visible; nothing is overwritten; a damaged or altered run fails loudly."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from stores.store_cases import Case

from kubeiam.quarterly.run_index import FINDINGS, MARKER, UnreadableRun, file_digest
from kubeiam.quarterly.stores import ObjectStore, StoreConflict, StoreError

T0 = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real run folders: a full audit of the demo, and one narrowed to a namespace."""
    from kubeiam import cli

    root = tmp_path_factory.mktemp("demo-runs")
    runs = {}
    for name, extra in (("full", []), ("platform", ["--namespace", "platform"])):
        folder = root / name
        code = cli.main(
            ["audit", "--demo", "--report-dir", str(folder), "-q", "-f", "json", "-o", str(root / "o"), *extra]
        )
        assert code in (0, 1)
        (runs[name],) = list(folder.iterdir())
    return runs


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MARKER}


def test_a_published_run_reads_back_whole(case: Case, demo_runs: dict[str, Path], tmp_path: Path) -> None:
    store = case.store("eks-prod")
    run = store.publish(demo_runs["full"], T0)
    assert run == "2026-11-02T090000Z"
    reader = case.store("eks-prod")  # a fresh reader: nothing cached from the writer
    assert reader.runs() == [run]
    index = reader.index(run)
    local = _files(demo_runs["full"])
    assert set(index.files) == local and {"evidence/kubernetes/eks-prod/resources.json", FINDINGS} <= local
    assert index.files[FINDINGS] == file_digest(demo_runs["full"] / FINDINGS)
    with reader.open_file(run, FINDINGS) as fh:
        assert fh.read() == (demo_runs["full"] / FINDINGS).read_bytes()
    got = reader.fetch(run, "evidence/aws/111122223333/iam.json", tmp_path / "iam.json")
    assert got.read_bytes() == (demo_runs["full"] / "evidence/aws/111122223333/iam.json").read_bytes()
    doc = json.loads((demo_runs["full"] / FINDINGS).read_text())
    assert sum(c.total for c in index.clusters) == doc["summary"]["total"] == len(doc["findings"]) > 0
    assert {c.name: c.total for c in index.clusters} == Counter(f["cluster"] for f in doc["findings"])
    assert sorted(c.name for c in index.clusters) == ["aks-apps", "eks-prod", "gke-data"]


def test_the_previous_run_of_the_same_scope_is_the_baseline(case: Case, demo_runs: dict[str, Path]) -> None:
    store = case.store()
    first = store.publish(demo_runs["full"], T0)
    narrowed = store.publish(demo_runs["platform"], T0 + timedelta(days=1))
    second = store.publish(demo_runs["full"], T0 + timedelta(days=90))
    reader = case.store()
    assert reader.runs() == [first, narrowed, second]
    assert reader.previous(None) == second
    assert reader.previous({"namespace": "platform", "service_account": None}) == narrowed
    assert reader.previous({"namespace": "payments", "service_account": None}) is None
    assert [p["run"] for p in reader.trend(None)] == [first, second]
    assert [p["run"] for p in reader.trend(None, exclude=second)] == [first]
    point = reader.trend(None)[0]
    assert point["by_severity"] == json.loads((demo_runs["full"] / FINDINGS).read_text())["summary"]["by_severity"]


def test_two_runs_in_the_same_second_never_mix(case: Case, demo_runs: dict[str, Path]) -> None:
    store = case.store()
    runs = [store.publish(demo_runs["full"], T0), store.publish(demo_runs["platform"], T0)]
    assert runs == ["2026-11-02T090000Z", "2026-11-02T090000Z-2"]
    reader = case.store()
    assert reader.index(runs[0]).scope is None
    assert reader.index(runs[1]).scope == {"namespace": "platform", "service_account": None}


def test_objects_are_written_create_only(case: Case) -> None:
    store = case.store()
    assert isinstance(store, ObjectStore)
    store.bucket.write("x/a.txt", b"one", create_only=True, content_type="text/plain")
    with pytest.raises(StoreConflict):
        store.bucket.write("x/a.txt", b"two", create_only=True, content_type="text/plain")
    assert store.bucket.read("x/a.txt") == b"one"


def test_an_interrupted_publication_leaves_no_visible_run(
    case: Case, demo_runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = case.store()
    assert isinstance(store, ObjectStore)
    calls: list[str] = []

    def failing_after_three(real: Callable[..., Any]) -> Callable[..., Any]:
        def write(*args: Any, **kw: Any) -> Any:
            calls.append(str(args[0]))
            if len(calls) == 4:
                raise OSError(28, "No space left on device (injected)")
            return real(*args, **kw)

        return write

    if case.kind == "local":  # the files are copied, not written one by one through the bucket
        monkeypatch.setattr(shutil, "copy2", failing_after_three(shutil.copy2))
    else:
        monkeypatch.setattr(store.bucket, "write", failing_after_three(store.bucket.write))
    with pytest.raises((StoreError, OSError), match="injected"):
        store.publish(demo_runs["full"], T0)
    assert len(calls) >= 4  # the failure happened part-way
    reader = case.store()
    assert reader.runs() == [] and reader.previous(None) is None
    monkeypatch.undo()
    run = store.publish(demo_runs["full"], T0)
    assert case.store().runs() == [run]
    assert set(case.store().index(run).files) == _files(demo_runs["full"])


def test_a_concurrent_reader_never_sees_a_run_half_written(case: Case, demo_runs: dict[str, Path]) -> None:
    """A reader polling while the writer uploads (slowed down) sees no run, then the whole run: never a run
    with a missing or different file."""
    store = case.store("c1")
    assert isinstance(store, ObjectStore)
    real = store.bucket.write

    def slow(key: str, source: Any, **kw: Any) -> None:
        time.sleep(0.05)
        real(key, source, **kw)

    store.bucket.write = slow  # type: ignore[method-assign]
    seen: list[str] = []
    partial_seen = threading.Event()
    done = threading.Event()
    errors: list[BaseException] = []

    def read_loop() -> None:
        try:
            while not done.is_set() or not seen or seen[-1] != "complete":
                reader = case.store("c1")
                runs = reader.runs()
                if not runs:
                    if reader.bucket.list_dirs(""):  # type: ignore[attr-defined]
                        partial_seen.set()  # objects are there, the run is not published yet
                    seen.append("none")
                    continue
                (run,) = runs
                index = reader.index(run)
                for name in index.files:
                    with reader.open_file(run, name) as fh:  # checks size and SHA-256 against run.json
                        fh.read(1)
                assert set(index.files) == _files(demo_runs["full"])
                seen.append("complete")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=read_loop)
    thread.start()
    store.publish(demo_runs["full"], T0)
    done.set()
    thread.join(timeout=120)
    assert not errors, errors
    assert partial_seen.is_set(), "the reader never looked while the run was half written: the test proves nothing"
    assert seen[-1] == "complete" and set(seen) <= {"none", "complete"}
    assert "none" not in seen[seen.index("complete") :]  # once published, it stays


def test_a_damaged_run_json_fails_loudly_and_only_loses_its_trend_point(case: Case, demo_runs: dict[str, Path]) -> None:
    store = case.store()
    assert isinstance(store, ObjectStore)
    good = store.publish(demo_runs["full"], T0)
    store.bucket.write(f"2026-12-01T000000Z/{MARKER}", b"{not json", create_only=True, content_type="application/json")
    reader = case.store()
    assert reader.runs() == [good, "2026-12-01T000000Z"]
    with pytest.raises(UnreadableRun, match=r"2026-12-01T000000Z/run\.json: not JSON"):
        reader.previous(None)
    assert [p["run"] for p in reader.trend(None)] == [good]


def test_a_file_changed_after_publication_is_not_trusted(
    case: Case, demo_runs: dict[str, Path], overwrite: Callable[[Case, str, bytes], None]
) -> None:
    store = case.store()
    run = store.publish(demo_runs["full"], T0)
    overwrite(case, f"{run}/{FINDINGS}", b'{"findings": []}')
    with pytest.raises(UnreadableRun, match="changed after publication"), case.store().open_file(run, FINDINGS):
        pass


@pytest.fixture
def overwrite() -> Callable[[Case, str, bytes], None]:
    """Replace an object behind kubeiam's back (as a person with write access could)."""

    def write(case: Case, key: str, data: bytes) -> None:
        if case.kind == "local":
            (Path(case.base_url) / key).write_bytes(data)
        elif case.kind == "s3":
            case.raw.put_object(Bucket=case.extra["bucket"], Key=key, Body=data)
        elif case.kind == "gcs":
            case.raw.bucket(case.extra["bucket"]).blob(key).upload_from_string(data)
        else:
            case.raw.upload_blob(key, data, overwrite=True)

    return write


def test_report_folders_below_a_source_are_found(case: Case, demo_runs: dict[str, Path]) -> None:
    for cluster in ("eks-prod", "gke-data"):
        case.store(f"fleet/{cluster}").publish(demo_runs["full"], T0)
    top = case.store("fleet")
    assert top.runs() == [] and top.folders() == ["eks-prod", "gke-data"]
    assert top.child("gke-data").runs() == ["2026-11-02T090000Z"]
    assert top.child("gke-data").url == case.url("fleet/gke-data")
