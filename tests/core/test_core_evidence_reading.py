"""Evidence as the CLIs really print it (BOMs, UTF-16), and what is not the command's output at all."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit, demo_dir
from kubeiam.pipeline.evidence import Evidence

DOC = {"Roles": [{"RoleName": "café-ü"}]}


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("utf-8"),
        lambda s: codecs.BOM_UTF8 + s.encode("utf-8"),
        lambda s: s.encode("utf-16"),  # with a BOM: what Windows PowerShell's `>` writes
        lambda s: s.encode("utf-16-le"),
        lambda s: s.encode("utf-16-be"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16le", "utf16be"],
)
def test_every_encoding_the_clis_write_is_read(tmp_path: Path, encode) -> None:
    (tmp_path / "f.json").write_bytes(encode(json.dumps(DOC, ensure_ascii=False)))
    assert Evidence(tmp_path).load("f.json") == DOC


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"null", "holds null"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"HttpPutResponseHopLimit": NaN}', "NaN is not a JSON number"),
        (b'{"x": Infinity}', "Infinity is not a JSON number"),
        (b"\xff\xfe\x00\xd8", "not UTF-16"),
        (b'{"a": "\xff"}', "not UTF-8"),
    ],
)
def test_what_is_not_the_commands_output_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "f.json").write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        Evidence(tmp_path).load("f.json")
    assert str(caught.value).startswith("f.json: ")


def test_a_directory_in_place_of_a_file_is_an_input_error_not_absence(tmp_path: Path) -> None:
    (tmp_path / "f.json").mkdir()
    with pytest.raises(InputError, match=r"f\.json: is a directory"):
        Evidence(tmp_path).load("f.json")


def test_links_out_of_the_evidence_directory_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text(json.dumps({"password": "hunter2"}))
    root = tmp_path / "evidence"
    (root / "kubernetes").mkdir(parents=True)
    os.symlink(outside / "secret.json", root / "kubernetes" / "resources.json")
    os.symlink(outside, root / "kubernetes" / "elsewhere")
    (root / "kubernetes" / "inside.json").write_text("{}")
    os.symlink(root / "kubernetes" / "inside.json", root / "kubernetes" / "alias.json")
    ev = Evidence(root)
    assert ev.load("kubernetes/resources.json") is None
    assert ev.children("kubernetes") == []  # the linked folder outside is not a cluster
    assert ev.load("kubernetes/alias.json") == {}  # a link that stays inside is fine
    assert [e.location for e in ev.refused] == ["kubernetes/resources.json", "kubernetes/elsewhere"]
    assert all("not followed" in e.reason for e in ev.refused)


def test_a_refused_link_is_a_coverage_error_of_the_audit(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    (root / "kubernetes" / "eks-prod").mkdir(parents=True)
    src = demo_dir() / "kubernetes" / "eks-prod"
    (root / "kubernetes" / "eks-prod" / "resources.json").write_bytes((src / "resources.json").read_bytes())
    os.symlink(src / "openid-configuration.json", root / "kubernetes" / "eks-prod" / "openid-configuration.json")
    report = audit(Evidence(root))
    refused = [e for e in report.coverage["errors"] if e["source"] == "evidence"]
    assert refused and refused[0]["location"] == "kubernetes/eks-prod/openid-configuration.json"
    assert report.incomplete
