"""kubeiam.pipeline.evidence: every file optional, every bad file named in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence


@pytest.fixture
def ev(tmp_path: Path) -> Evidence:
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a" / "obj.json").write_text(json.dumps({"x": 1, "items": [1, 2]}))
    (tmp_path / "a" / "list.json").write_text("[1, 2]")
    (tmp_path / "a" / "bom.json").write_bytes(b"\xef\xbb\xbf" + b'{"ok": true}')  # PowerShell's UTF-8 BOM
    (tmp_path / "a" / "empty.json").write_text("  \n")
    (tmp_path / "a" / "bad.json").write_text('{"x": ')
    (tmp_path / "a" / "b").mkdir()
    (tmp_path / "a" / "b" / "obj.json").write_text("{}")
    return Evidence(tmp_path)


def test_missing_files_are_absent_not_errors(ev):
    assert ev.load("a/nope.json") is None
    assert ev.load_object("nope/x.json", "anything") is None
    assert ev.load_list("a/none.json", "items") is None
    assert ev.read == []


def test_reads_are_recorded_and_bom_is_accepted(ev):
    assert ev.load_object("a/bom.json") == {"ok": True}
    assert ev.load_list("a/obj.json", "items") == [1, 2]
    assert ev.load_list("a/list.json") == [1, 2]
    assert ev.read == ["a/bom.json", "a/obj.json", "a/list.json"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.load("a/empty.json"), r"^a/empty.json: file is empty \(expected JSON\)$"),
        (lambda e: e.load("a/bad.json"), r"^a/bad.json: not valid JSON \(Expecting value at line 1\)$"),
        (lambda e: e.load_object("a/list.json"), r"^a/list.json: expected a JSON object, found a list$"),
        (lambda e: e.load_object("a/obj.json", "x", "y"), r"^a/obj.json: missing field 'y'$"),
        (lambda e: e.load_list("a/obj.json"), r"^a/obj.json: top level must be a list, found an object$"),
        (lambda e: e.load_list("a/obj.json", "x"), r"^a/obj.json: field 'x' must be a list, found int$"),
        (lambda e: e.load_list("a/obj.json", "z"), r"^a/obj.json: missing field 'z'$"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(ev, call, message):
    with pytest.raises(InputError, match=message) as info:
        call(ev)
    assert "\n" not in str(info.value)


def test_listing(ev):
    assert ev.children() == ["a"]  # hidden folders are not evidence
    assert ev.children("a") == ["b"]
    assert ev.files("a") == ["bad.json", "bom.json", "empty.json", "list.json", "obj.json"]
    assert list(ev.walk("", "obj.json")) == ["a/b/obj.json", "a/obj.json"]
    assert ev.children("missing") == [] and ev.files("missing") == []
