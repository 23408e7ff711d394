"""Which controls a rule evidences: CIS Benchmark recommendations and MITRE ATT&CK techniques.

Each provider keeps its rules' mapping in `data/compliance.json`, with the benchmark's name, version and
section and the public file each mapping was read from; `load_mapping` turns it into `Control`s. A finding
carries the controls that apply where it was found: a platform benchmark (CIS EKS, GKE, AKS) only on that
platform's clusters, ATT&CK everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Control:
    framework: str
    """`CIS Amazon Elastic Kubernetes Service (EKS) Benchmark`, `MITRE ATT&CK Enterprise`."""
    version: str
    id: str
    """The benchmark's section (`5.2.1`) or the technique (`T1552.005`)."""
    title: str
    cloud: str | None = None
    """The cloud whose clusters or accounts the benchmark is about; None for ATT&CK (everywhere)."""
    source: str = ""
    """The public file the mapping was read from (repository and path)."""
    key: str = "attack"
    """Short name of the framework: `cis-eks`, `cis-aws`, ..., `attack`."""

    def to_dict(self) -> dict[str, Any]:
        return {"framework": self.framework, "version": self.version, "id": self.id, "title": self.title}

    @property
    def tag(self) -> str:
        """A short label for formats that take tags (SARIF): `CIS-EKS-1.8.0:5.2.1`, `ATT&CK:T1552.005`."""
        if self.key == "attack":
            return f"ATT&CK:{self.id}"
        return f"{self.key.upper()}-{self.version}:{self.id}"


def load_mapping(path: Path) -> Mapping[str, tuple[Control, ...]]:
    """Rule id -> its controls, from a provider's `data/compliance.json`."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    benchmarks, attack = doc["benchmarks"], doc["attack"]
    out: dict[str, tuple[Control, ...]] = {}
    for rule_id, mapped in doc["rules"].items():
        controls = [
            Control(
                benchmarks[c["benchmark"]]["name"],
                benchmarks[c["benchmark"]]["version"],
                c["section"],
                c["title"],
                benchmarks[c["benchmark"]].get("cloud"),
                c.get("source", ""),
                c["benchmark"],
            )
            for c in mapped.get("cis", ())
        ]
        controls += [
            Control(attack["name"], attack["version"], t["id"], t["name"], None, attack.get("source", ""))
            for t in mapped.get("attack", ())
        ]
        out[rule_id] = tuple(controls)
    return out


def applying(controls: tuple[Control, ...], cluster_cloud: str | None) -> tuple[Control, ...]:
    """The controls that apply to a finding on a cluster of `cluster_cloud` (None: not a cloud's cluster)."""
    return tuple(c for c in controls if c.cloud is None or c.cloud == cluster_cloud)
