"""Findings by the control they evidence (CIS Benchmark sections, MITRE ATT&CK techniques; docs/compliance.md):
the HTML report's "By control" section, the markdown summary's table, the SARIF tags."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kubeiam.render.by_service_account import subject_key
from kubeiam.vocabulary.findings import Finding

ATTACK = "MITRE ATT&CK"


def _key(control: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(control.get("framework", "")), str(control.get("version", "")), str(control.get("id", "")))


def control_tag(control: Mapping[str, Any]) -> str:
    """`Control.tag` from what a finding carries ({framework, version, id, title}): `CIS-EKS-1.8.0:5.2.1`,
    `ATT&CK:T1552.005`. One word (no blank), so it is one tag and one facet value."""
    return _tag(*_key(control))


@lru_cache(maxsize=4096)  # a report has a few dozen controls, repeated on every finding
def _tag(framework: str, version: str, cid: str) -> str:
    tag = f"ATT&CK:{cid}" if framework.startswith(ATTACK) else f"{framework_key(framework)}-{version}:{cid}"
    return re.sub(r"\s+", "-", tag.strip())


def framework_key(name: str) -> str:
    """`CIS-EKS` for "CIS Amazon Elastic Kubernetes Service (EKS) Benchmark", `CIS-AWS` for "CIS Amazon Web
    Services Foundations Benchmark": the platform's abbreviation when the name gives one, else the initials
    of the words before "Foundation(s)" / "Benchmark"."""
    short = re.search(r"\(([A-Z][A-Z0-9]+)\)", name)
    body = name.removeprefix("CIS ")
    if short:
        key = short.group(1)
    else:
        words = re.split(r"\s+(?:Foundations?|Benchmark)\b", body, maxsplit=1)[0].split()
        key = "".join(w[0] for w in words if w[:1].isalnum()).upper() or "X"
    return f"CIS-{key}" if name.startswith("CIS ") else key


def is_attack(control: Mapping[str, Any]) -> bool:
    return str(control.get("framework", "")).startswith(ATTACK)


def _natural(text: str) -> tuple:
    """`5.2.10` after `5.2.9`, `T1552.005` after `T1098`."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


def control_order(control: Mapping[str, Any]) -> tuple:
    """CIS sections first (by benchmark, then section), ATT&CK techniques last."""
    return _order(*_key(control))


@lru_cache(maxsize=4096)
def _order(framework: str, version: str, cid: str) -> tuple:
    return (framework.startswith(ATTACK), framework, _natural(version), _natural(cid))


def ordered_tags(controls: Iterable[Mapping[str, Any]]) -> list[str]:
    """Each control's tag once, CIS first, in section order."""
    seen: dict[str, Mapping[str, Any]] = {}
    for c in controls:
        seen.setdefault(control_tag(c), c)
    return [tag for tag, _ in sorted(seen.items(), key=lambda kv: control_order(kv[1]))]


@dataclass(frozen=True)
class ControlRow:
    """One control and the findings that evidence it."""

    framework: str
    version: str
    id: str
    title: str
    tag: str
    open: int
    """Open findings (suppressed ones are accepted risks, counted apart)."""
    suppressed: int
    subjects: tuple[tuple, ...]
    """The subjects (`subject_key`) with an open finding for it, in report order (worst first)."""


def by_control(findings: Sequence[Finding]) -> list[ControlRow]:
    """Every control some finding evidences, CIS first, with its open findings count and subjects."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for f in findings:
        for c in f.compliance:
            key = _key(c)
            row = rows.get(key)
            if row is None:
                row = rows[key] = {"control": c, "open": 0, "suppressed": 0, "subjects": {}}
            if f.status == "open":
                row["open"] += 1
                row["subjects"].setdefault(subject_key(f), None)
            else:
                row["suppressed"] += 1
    out = []
    for (framework, version, cid), row in sorted(rows.items(), key=lambda kv: control_order(kv[1]["control"])):
        c = row["control"]
        out.append(
            ControlRow(
                framework,
                version,
                cid,
                str(c.get("title", "")),
                control_tag(c),
                row["open"],
                row["suppressed"],
                tuple(row["subjects"]),
            )
        )
    return out


def subject_label(key: tuple) -> str:
    cluster, ns, sa, node = key
    return f"{cluster}/{ns}/{sa}" if sa is not None else f"{cluster}/node/{node}"
