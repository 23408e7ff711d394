"""The report folder's evidence copy: links out of the directory are not followed, what is not JSON is
blanked too, and the audit's coverage names each link it refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safety_helpers import DEMO, Run, leaks

from kubeiam.quarterly.report_dir import copy_evidence
from kubeiam.safety.redaction import REDACTED

OUTSIDE_SECRET = "KUBEIAMFAKE-outside-the-evidence-directory"


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """The demo, plus links leading out of it (to a file and to a folder holding secrets) and one in a loop."""
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    secret_file = outside / "resources.json"
    secret_file.write_text(json.dumps({"kind": "List", "items": [], "note": OUTSIDE_SECRET}))
    (outside / "folder" / "project.json").write_text(json.dumps({"projectId": OUTSIDE_SECRET}))
    evidence = tmp_path / "evidence"
    shutil.copytree(DEMO, evidence)
    (evidence / "kubernetes" / "linked").mkdir()
    (evidence / "kubernetes" / "linked" / "resources.json").symlink_to(secret_file)
    (evidence / "gcp" / "linked-project").symlink_to(outside / "folder", target_is_directory=True)
    (evidence / "kubernetes" / "loop").symlink_to(evidence / "kubernetes", target_is_directory=True)
    (evidence / "aws" / "same-iam.json").symlink_to(evidence / "aws" / "111122223333" / "iam.json")
    return evidence


def test_links_out_of_the_directory_are_not_copied(linked: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy"
    copy_evidence(linked, target)
    copied = {p.relative_to(target).as_posix() for p in target.rglob("*")}
    assert "kubernetes/linked/resources.json" not in copied
    assert not any(p.startswith("gcp/linked-project") for p in copied)
    assert not any(p.startswith("kubernetes/loop") for p in copied)  # a link back up would copy forever
    assert "aws/same-iam.json" in copied  # a link inside the directory: its target is evidence too
    assert not any(p.is_symlink() for p in target.rglob("*"))
    for path in target.rglob("*"):
        if path.is_file():
            assert not leaks(path.read_bytes()), path


def test_the_audit_names_the_refused_links_and_the_copy_has_none(run: Run, linked: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    w = run("audit", "-e", linked, "-f", "json", "--report-dir", runs, watch=[runs])
    assert w.code in (1, 3), w.err
    assert not [where for where, data in w.every_byte() if leaks(data)]
    errors = json.loads(w.out)["coverage"]["errors"]
    refused = {e["location"] for e in errors if "link out of the evidence directory" in e["reason"]}
    assert {"kubernetes/linked/resources.json", "gcp/linked-project"} <= refused, errors
    [folder] = runs.iterdir()
    assert not (folder / "evidence" / "kubernetes" / "linked" / "resources.json").exists()


def test_files_that_are_not_json_are_blanked_or_left_behind(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    (evidence / "aws").mkdir(parents=True)
    (evidence / "aws" / "notes.txt").write_text("db: postgres://admin:KUBEIAMFAKE-notes@db/x\npassword=KUBEIAMFAKE-2\n")
    (evidence / "broken.json").write_text('{"password": "KUBEIAMFAKE-3", ')  # not JSON: its text is blanked
    (evidence / "utf16.json").write_text(
        json.dumps({"Tags": [{"Key": "password", "Value": "KUBEIAMFAKE-4"}]}), "utf-16"
    )
    (evidence / "blob.bin").write_bytes(b"\xff\xfe\x00KUBEIAMFAKE-5\x00\xd8\x00")  # not text: not copied
    (evidence / ".hidden.json").write_text(json.dumps({"password": "KUBEIAMFAKE-6"}))
    for depth in (600, 5000):  # deeper than the walk goes; deeper than JSON parsing goes: blanked as text
        (evidence / f"deep{depth}.json").write_text("[" * depth + '"password=KUBEIAMFAKE-7"' + "]" * depth)
    target = tmp_path / "copy"
    copy_evidence(evidence, target)
    names = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert names == ["aws/notes.txt", "broken.json", "deep5000.json", "deep600.json", "utf16.json"]
    for name in names:
        text = (target / name).read_text(encoding="utf-8")
        assert not leaks(text) and REDACTED in text, (name, text)
    assert json.loads((target / "utf16.json").read_text()) == {"Tags": [{"Key": "password", "Value": REDACTED}]}
    assert (target / "aws" / "notes.txt").read_text().startswith("db: postgres://admin:")
