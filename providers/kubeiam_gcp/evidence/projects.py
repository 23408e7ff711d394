"""`gcp/<project>/project.json`: the project's number and parent (gcloud v1 or the v3 API shape)."""

from __future__ import annotations

from dataclasses import dataclass

from kubeiam.pipeline.evidence import Evidence

from .json_checks import PROJECT, Unread, kind_of, load_object


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    number: str | None
    """None when the file does not say (then other evidence may: see `numbers.py`)."""
    parent: str | None
    """`folders/N` or `organizations/N`; None when the project has none, or it cannot be read."""
    parent_known: bool = True
    """False when the file's parent cannot be read: folder and organisation bindings are then unknown."""
    unread: tuple[Unread, ...] = ()


def read_project(evidence: Evidence, base: str) -> ProjectRecord | None:
    """None when the file is absent (then the parent, and so the ancestors' bindings, are unknown)."""
    file = f"{base}/project.json"
    doc = load_object(evidence, file, "gcloud projects describe PROJECT --format=json")
    if doc is None:
        return None
    unread: list[Unread] = []
    # gcloud (v1) prints projectNumber and parent {type, id}; the v3 API has name projects/N, parent "folders/N".
    number = doc.get("projectNumber")
    name = doc.get("name")
    if number is None and isinstance(name, str) and name.startswith("projects/"):
        number = name.split("/", 1)[1]
    if (
        isinstance(number, bool)
        or not isinstance(number, (str, int))
        or not str(number).isdigit()
        or len(str(number)) > 19  # an int64: a number of 400 digits is no project's
        or not 0 < int(number) < 2**63
    ):
        reason = f"expected the project number, found {kind_of(number) if number is not None else 'none'}"
        unread.append(Unread(PROJECT, file, "projectNumber", reason))
        number = None
    parent = doc.get("parent")
    found: str | None = None
    known = True
    if isinstance(parent, dict) and parent.get("type") in ("folder", "organization") and parent.get("id"):
        found = f"{'organizations' if parent['type'] == 'organization' else 'folders'}/{parent['id']}"
    elif isinstance(parent, str) and parent.startswith(("folders/", "organizations/")):
        found = parent
    elif parent is not None:
        known = False
        reason = f"expected {{type: folder|organization, id}} or folders/N, found {kind_of(parent)}"
        unread.append(Unread(PROJECT, file, "parent", reason + ": folder and organisation bindings not checked"))
    return ProjectRecord(None if number is None else str(number), found, known, tuple(unread))
