"""Where report folders live: a local folder or object storage, with one layout for both.

```
<folder>/<run>/evidence/...    the evidence audited
              findings.json    the JSON report
              report.html      the self-contained page
              summary.md       markdown for a ticket
              run.json         the run's index (run_index.py), written last: it publishes the run
```

A run is complete when its `run.json` exists (a local run written before run.json existed is complete
when its findings.json does). Object storage has no rename, so a run is written file by file under a
name nothing else uses, then published by creating run.json; a reader lists only published runs and
never sees half of one. Every object is written create-only, so no run is ever overwritten.

Object stores come from plug-ins: the `kubeiam.stores` entry-point group maps a URL scheme to a
factory `(url, StoreOptions) -> Bucket | None` (None: not a URL this plug-in serves). The core names
no cloud and imports no SDK; a plug-in imports its SDK when the store is first used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from kubeiam.quarterly.run_index import FINDINGS
from kubeiam.quarterly.store_api import (
    RUN_NAME,
    Bucket,
    ReportStore,
    StoreConflict,
    StoreError,
    StoreFactory,
    StoreMissing,
    StoreOptions,
    run_order,
    shown_url,
)
from kubeiam.quarterly.store_local import LocalBucket, LocalStore
from kubeiam.quarterly.store_object import ObjectStore

__all__ = [
    "GROUP", "RUN_NAME", "Bucket", "LocalBucket", "LocalStore", "ObjectStore", "ReportStore", "StoreConflict",
    "StoreError", "StoreFactory", "StoreMissing", "StoreOptions", "baseline_from", "is_url",
    "load_store_factories", "run_order", "shown_url", "store_for",
]  # fmt: skip

GROUP = "kubeiam.stores"
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+)://")  # two letters at least: C:\ is a path


def baseline_from(store: ReportStore, scope: Mapping[str, Any] | None, tmp: Path) -> tuple[Path, str] | None:
    """The previous run's findings.json of the same scope as a local file (downloaded into `tmp` when the
    store is remote), and the name to show for it (its URL): the baseline `--report-dir` gives when no
    `--baseline` is named. None when the store has no run of that scope."""
    run = store.previous(scope)
    if run is None:
        return None
    return store.fetch(run, FINDINGS, tmp / "baseline.json"), f"{store.url}/{run}/{FINDINGS}"


def is_url(target: str | Path) -> bool:
    """A `scheme://` URL rather than a local path."""
    return isinstance(target, str) and bool(_URL.match(target))


def load_store_factories() -> dict[str, list[StoreFactory]]:
    """URL scheme -> the plug-ins' store factories (entry-point group `kubeiam.stores`)."""
    found: dict[str, list[StoreFactory]] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name.lower(), []).append(ep.load())
    return found


def store_for(
    target: str | Path,
    options: StoreOptions | None = None,
    factories: Mapping[str, Sequence[StoreFactory]] | None = None,
) -> ReportStore:
    """The report store a `--report-dir` (or a fleet source) names: a path, `file://`, or an object-storage URL
    served by a plug-in."""
    if not is_url(target):
        return LocalStore(Path(target))
    url = str(target)
    scheme = url.split("://", 1)[0].lower()
    if scheme == "file":
        return LocalStore(Path(url[len("file://") :]))
    options = options or StoreOptions()
    for factory in (factories if factories is not None else load_store_factories()).get(scheme, ()):
        bucket = factory(url, options)
        if bucket is not None:
            return ObjectStore(bucket)
    raise StoreError(
        f"{shown_url(url)}: no report store serves {scheme}:// URLs like this one (docs/storage.md lists them)"
    )
