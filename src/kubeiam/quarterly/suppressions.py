"""Accepted risks: a suppressions file (YAML or TOML) and the `kubeiam.io/suppress` annotation.

A suppressed finding stays in the report, marked `suppressed`, with who accepted it, why and until
when (Prowler's mutelist habit). An expired suppression mutes nothing and is listed as expired, so
an accepted risk cannot silently become permanent.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from kubeiam.errors import InputError
from kubeiam.quarterly.ownership import DEFAULT_OWNER_LABELS, owner_of
from kubeiam.vocabulary.findings import Finding
from kubeiam.vocabulary.model import Inventory

ANNOTATION = "kubeiam.io/suppress"
_REQUIRED = ("reason", "owner", "expires")
# Several entries are separated by `;` or a newline before the next RULE-ID=, so a reason may contain `;`.
_SPLIT = re.compile(r"[;\n]\s*(?=[A-Z][A-Z0-9]*-[0-9]{3}\s*=)")


@dataclass(frozen=True)
class Suppression:
    reason: str
    owner: str
    expires: date | None
    """Last day the suppression holds (inclusive); None only for annotations, which live with the workload."""
    fingerprint: str | None = None
    rule: str | None = None
    subject: str | None = None
    """`NAMESPACE/SERVICEACCOUNT` glob, optional `CLUSTER:` prefix; `node/NAME` for node findings."""
    source: str = ""
    """Where it was declared: `file#index` or the annotated ServiceAccount."""

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now.date() > self.expires

    def matches(self, f: Finding) -> bool:
        if self.fingerprint is not None:
            return f.fingerprint == self.fingerprint
        if self.rule != f.rule_id or self.subject is None:
            return False
        cluster_glob, _, subject_glob = self.subject.rpartition(":")
        if cluster_glob and not (fnmatchcase(f.cluster, cluster_glob) or fnmatchcase(f.cluster_id or "", cluster_glob)):
            return False
        subject = f"{f.namespace}/{f.service_account}" if f.service_account is not None else f"node/{f.node}"
        return fnmatchcase(subject, subject_glob)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "owner": self.owner,
            "expires": self.expires.isoformat() if self.expires else None,
            "source": self.source,
        }

    def describe(self) -> dict[str, Any]:
        """The whole entry, for `expired_suppressions`."""
        out: dict[str, Any] = {}
        if self.fingerprint:
            out["fingerprint"] = self.fingerprint
        else:
            out["rule"], out["subject"] = self.rule, self.subject
        return {**out, **self.to_dict()}


def load_suppressions(path: Path) -> tuple[Suppression, ...]:
    """Parse and validate a suppressions file; any defect is an InputError naming file and entry."""
    kind = "TOML" if path.suffix.lower() == ".toml" else "YAML"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read suppressions file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid {kind}: not UTF-8 text") from None
    try:
        doc = tomllib.loads(text) if kind == "TOML" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: not valid {kind}: {_parse_problem(exc)}") from None
    except ValueError as exc:  # PyYAML builds dates while parsing: `expires: 2027-02-30`
        raise InputError(f"{path}: not valid {kind}: {exc}") from None
    if doc is None:
        return ()
    # Strict like the config file: a misspelt top-level key would otherwise mute nothing, silently.
    if not isinstance(doc, dict) or set(doc) != {"suppressions"} or not isinstance(doc["suppressions"], list | None):
        raise InputError(f"{path}: expected only a top-level 'suppressions' list")
    return tuple(_entry(path, i, e) for i, e in enumerate(doc["suppressions"] or []))


def _parse_problem(exc: Exception) -> str:
    """One line: PyYAML's message spans several (context, problem, a snippet); keep problem and line."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _entry(path: Path, index: int, entry: Any) -> Suppression:
    where = f"{path}: suppressions[{index}]"
    if not isinstance(entry, dict):
        raise InputError(f"{where}: expected a mapping with reason, owner and expires")
    label = entry.get("fingerprint") or (f"{entry.get('rule')} {entry.get('subject')}" if entry.get("rule") else None)
    if label:
        where += f" ({label})"
    for key in _REQUIRED:
        value = entry.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InputError(f"{where}: missing required '{key}'")
        if key != "expires" and not isinstance(value, str):
            raise InputError(f"{where}: '{key}' must be text, found {type(value).__name__}")
    unknown = set(entry) - {"fingerprint", "rule", "subject", *_REQUIRED}
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    fingerprint, rule, subject = entry.get("fingerprint"), entry.get("rule"), entry.get("subject")
    if fingerprint is not None and (rule is not None or subject is not None):
        raise InputError(f"{where}: give either 'fingerprint' or 'rule' and 'subject', not both")
    if fingerprint is None and (not isinstance(rule, str) or not isinstance(subject, str) or not subject):
        # Why subject is required: a rule-wide mute across every cluster is too easy to write by accident.
        raise InputError(f"{where}: needs 'fingerprint', or 'rule' and 'subject' (NAMESPACE/NAME glob)")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise InputError(f"{where}: 'fingerprint' must be a string")
    if subject is not None and "/" not in subject.rpartition(":")[2]:
        raise InputError(f"{where}: subject '{subject}' is not NAMESPACE/NAME (optionally CLUSTER:NAMESPACE/NAME)")
    return Suppression(
        reason=str(entry["reason"]).strip(),
        owner=str(entry["owner"]).strip(),
        expires=_date(where, entry["expires"]),
        fingerprint=fingerprint,
        rule=rule,
        subject=subject,
        source=f"{path.name}#{index}",
    )


def _date(where: str, value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"{where}: 'expires' must be a date (YYYY-MM-DD), found {value!r}") from None


@dataclass(frozen=True)
class Outcome:
    findings: tuple[Finding, ...]
    expired: tuple[dict[str, Any], ...]
    """Expired suppressions, each with the fingerprints it would still match."""
    invalid_annotations: tuple[dict[str, str], ...]
    unused: tuple[dict[str, Any], ...] = ()
    """File entries still in force that matched nothing (fixed, or a typo in the rule or subject)."""


def annotation_suppressions(
    inventory: Inventory, owner_labels: Sequence[str] = DEFAULT_OWNER_LABELS
) -> tuple[tuple[Suppression, ...], tuple[dict[str, str], ...]]:
    """`kubeiam.io/suppress: RULE=reason` (several separated by `;`) on a ServiceAccount."""
    found: list[Suppression] = []
    invalid: list[dict[str, str]] = []
    for sa in inventory.service_accounts:
        value = sa.annotations.get(ANNOTATION)
        if value is None:
            continue
        where = f"{sa.cluster}/{sa.namespace}/{sa.name}"
        for part in (p.strip() for p in _SPLIT.split(value)):
            rule, sep, reason = part.partition("=")
            if not part:
                continue
            if not sep or not rule.strip() or not reason.strip():
                # Malformed cluster state is reported, not fatal: the audit of everything else goes on.
                invalid.append({"service_account": where, "value": part, "reason": "expected RULE=reason"})
                continue
            owner = owner_of(inventory, sa.cluster, sa.namespace, owner_labels) or f"annotation on {where}"
            found.append(
                Suppression(
                    reason=reason.strip(),
                    owner=owner,
                    expires=None,
                    rule=rule.strip(),
                    # Annotations bind to their own cluster only.
                    subject=f"{_glob_escape(sa.cluster)}:{sa.namespace}/{sa.name}",
                    source=f"annotation {ANNOTATION} on {where}",
                )
            )
    return tuple(found), tuple(invalid)


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def apply_suppressions(
    findings: Sequence[Finding],
    suppressions: Sequence[Suppression],
    now: datetime,
    invalid_annotations: Sequence[Mapping[str, str]] = (),
) -> Outcome:
    """Mark matched findings suppressed; `now` decides expiry (passed in: analysis has no clock)."""
    active = [s for s in suppressions if not s.expired(now)]
    expired = [s for s in suppressions if s.expired(now)]
    out = []
    for f in findings:
        hit = next((s for s in active if s.matches(f)), None)
        if hit is not None:
            f = replace(f, status="suppressed", extra={**f.extra, "suppression": hit.to_dict()})
        out.append(f)
    expired_list = tuple(
        {**s.describe(), "matches": [f.fingerprint for f in findings if s.matches(f)]} for s in expired
    )
    unused = tuple(s.describe() for s in active if s.expires is not None and not any(s.matches(f) for f in findings))
    return Outcome(tuple(out), expired_list, tuple(dict(i) for i in invalid_annotations), unused)
