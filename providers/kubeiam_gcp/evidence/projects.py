"""`gcp/<project>/project.json`: the project's number and parent (gcloud v1 or the v3 API shape)."""

from __future__ import annotations

from dataclasses import dataclass

from kubeiam.pipeline.evidence import Evidence

from .json_checks import fail, load_object


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    number: str
    parent: str | None
    """`folders/N` or `organizations/N`; None when the file names no parent."""


def read_project(evidence: Evidence, base: str) -> ProjectRecord | None:
    """None when the file is absent (then the parent, and so the ancestors' bindings, are unknown)."""
    file = f"{base}/project.json"
    doc = load_object(evidence, file)
    if doc is None:
        return None
    # gcloud (v1) prints projectNumber and parent {type, id}; the v3 API has name projects/N, parent "folders/N".
    number = doc.get("projectNumber")
    if number is None and str(doc.get("name", "")).startswith("projects/"):
        number = doc["name"].split("/", 1)[1]
    if number is None:
        raise fail(file, "missing field 'projectNumber' (or 'name': projects/NUMBER)")
    parent = doc.get("parent")
    found: str | None = None
    if isinstance(parent, dict) and parent.get("type") and parent.get("id"):
        found = f"{'organizations' if parent['type'] == 'organization' else 'folders'}/{parent['id']}"
    elif isinstance(parent, str):
        found = parent
    return ProjectRecord(str(number), found)
