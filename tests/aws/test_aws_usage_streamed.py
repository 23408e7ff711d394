"""service-last-accessed.json is streamed one role at a time (a 20,000-ServiceAccount account's file is over
100 MB): whatever the stream cannot take as printed falls back to reading the whole file, so every shape gives
the same records, the same coverage entries and the same errors either way."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest
from kubeiam_aws.evidence.usage import UsageReader

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence

JOB = (
    '{"JobStatus":"COMPLETED","JobType":"ACTION_LEVEL","JobCompletionDate":"2026-01-01T00:00:00Z",'
    '"ServicesLastAccessed":[{"ServiceNamespace":"s3","LastAuthenticated":"2026-01-01T00:00:00Z",'
    '"TrackedActionsLastAccessed":[{"ActionName":"GetObject","LastAccessedTime":"bad"}]},'
    '{"ServiceNamespace":"ec2","TrackedActionsLastAccessed":[{"ActionName":"RunInstances"}, 3]},'
    '{"ServiceNamespace":"kms","TrackedActionsLastAccessed":[{"ActionName":"Decrypt",'
    '"LastAccessedTime":"2025-12-01T00:00:00Z"}]}]}'
)
ROLE = "arn:aws:iam::1:role/r"
CASES = {
    "plain": f'{{"{ROLE}": {JOB}, "bad-key": 1}}'.encode(),
    "bom": codecs.BOM_UTF8 + f'{{"{ROLE}": {JOB}}}'.encode(),
    "utf16": f'{{"{ROLE}": {JOB}}}'.encode("utf-16"),
    "lone-surrogate": f'{{"{ROLE}\\ud800": {JOB}}}'.encode(),
    "duplicate-key": f'{{"{ROLE}": {JOB}, "{ROLE}": {{"JobStatus":"FAILED"}}}}'.encode(),
    "one-job-not-keyed": JOB.encode(),
    "trailing-garbage": f'{{"{ROLE}": {JOB}}} x'.encode(),
    "list": b"[1]",
    "null": b"null",
    "empty": b"  ",
    "nan": f'{{"{ROLE}": {{"x": NaN}}}}'.encode(),
    "bad-utf8": f'{{"{ROLE}": {JOB}, "k\xff": 1}}'.encode("latin-1"),
}


def _read(tmp: Path, data: bytes, stream: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    (tmp / "aws" / "1").mkdir(parents=True)
    (tmp / "aws" / "1" / "service-last-accessed.json").write_bytes(data)
    evidence, reader = Evidence(tmp), UsageReader()
    with monkeypatch.context() as m:
        if not stream:
            m.setattr(UsageReader, "_stream", lambda *_: False)
        return _outcome(tmp, evidence, reader)


def _outcome(tmp: Path, evidence: Evidence, reader: UsageReader) -> tuple[Any, ...]:
    try:
        reader.read(evidence, "1", [])
    except InputError as e:
        return ("error", str(e).replace(str(tmp), ""))
    return (repr(reader.errors), repr(reader.reports), sorted(map(str, evidence.read)))


@pytest.mark.parametrize("case", sorted(CASES))
def test_streamed_and_whole_file_reads_agree(tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    streamed = _read(tmp_path / "streamed", CASES[case], True, monkeypatch)
    whole = _read(tmp_path / "whole", CASES[case], False, monkeypatch)
    assert streamed == whole


def test_the_plain_file_is_really_streamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    original = Evidence.load

    def counting(self: Evidence, *args: Any, **kwargs: Any) -> Any:
        loads.append(str(args[0] if args else kwargs))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Evidence, "load", counting)
    found = _read(tmp_path, CASES["plain"], True, monkeypatch)
    assert found[0] != "error" and "service-last-accessed.json" in found[2][0]
    assert not [p for p in loads if "service-last-accessed" in p]
