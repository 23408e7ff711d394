"""The projects under folders and organisations (`--gcp-folder`, `--gcp-organization`): a central audit.

Why `folders.list` + `projects.list`, walked level by level, rather than `projects.search`:

- `list` returns the direct children of a parent to whoever holds `resourcemanager.folders.list` /
  `resourcemanager.projects.list` on it, strongly consistent, including projects the caller cannot
  read: such a project is then read like any other and its refused calls are coverage naming it.
- `search` has no ancestor filter (`parent:` matches the direct parent only, so sub-folders still need
  a walk), is eventually consistent (a new project may be missing), and returns only the projects the
  caller holds `resourcemanager.projects.get` on: a project the auditor may not read would vanish from
  the audit without a trace.

Each level's listings run side by side in the Resource Manager pool (the collector's bound per API).
Without `showDeleted`, the API returns ACTIVE projects and folders only; anything else that comes back
is left out too (a project being deleted is not audited). A listing that fails is coverage naming its
folder (or organisation): what lies under it is not read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kubeiam.pipeline.progress import Progress

from .clients import Caller, Clients, Pools, raise_bugs, tick

RM = "cloudresourcemanager"


@dataclass(frozen=True)
class Listed:
    """What the walk found: the ACTIVE projects (id -> v3 Project, as `projects.get` returns it) and each
    listed folder's parent, so the collector asks neither again."""

    projects: Mapping[str, Any] = field(default_factory=dict)
    parents: Mapping[str, str | None] = field(default_factory=dict)


def active(items: Iterable[Any]) -> list[Any]:
    """Projects or folders in state ACTIVE (DELETE_REQUESTED and unknown states are not audited)."""
    return [i for i in items if _state(i) == "ACTIVE"]


def _state(item: Any) -> str:
    state = getattr(item, "state", None)
    return str(getattr(state, "name", state) or "")


class Hierarchy:
    def __init__(self, clients: Clients, caller: Caller, progress: Progress) -> None:
        self.clients = clients
        self.caller = caller
        self.progress = progress
        self._projects: dict[str, Any] = {}
        self._parents: dict[str, str | None] = {}
        self._children: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def walk(self, roots: Iterable[str], pools: Pools) -> Listed:
        """Every ACTIVE project under `roots` (`folders/N`, `organizations/N`), sub-folders included."""
        seen: set[str] = set()
        level = list(dict.fromkeys(roots))
        task = self.progress.task("gcp: projects under folders and organisations")
        while level:
            seen.update(level)
            jobs: list[Callable[[], None]] = []
            for parent in level:
                jobs += [partial(self._folders, parent), partial(self._projects_of, parent)]
            futures = [pools.submit(RM, tick(job, task)) for job in jobs]
            wait(futures)
            raise_bugs(futures)
            below = (f for parent in level for f in self._children.get(parent, ()))
            level = [f for f in dict.fromkeys(below) if f not in seen]
        task.done()
        return Listed(dict(sorted(self._projects.items())), dict(self._parents))

    def _folders(self, parent: str) -> None:
        def list_folders(r: Any, t: float) -> list[Any]:
            return list(self.clients.folders().list_folders(request={"parent": parent}, retry=r, timeout=t))

        found = self.caller.call(RM, "folders.list", parent, list_folders, subject=parent)
        with self._lock:
            for folder in active(found or ()):
                self._children.setdefault(parent, []).append(folder.name)
                self._parents[folder.name] = folder.parent or None

    def _projects_of(self, parent: str) -> None:
        def list_projects(r: Any, t: float) -> list[Any]:
            return list(self.clients.projects().list_projects(request={"parent": parent}, retry=r, timeout=t))

        found = self.caller.call(RM, "projects.list", parent, list_projects, subject=parent)
        with self._lock:
            for project in active(found or ()):
                self._projects.setdefault(project.project_id, project)
