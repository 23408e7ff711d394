"""`kubeiam.toml`: defaults for the quarterly audit (command-line options win over it).

```toml
contexts = ["prod-eu", "prod-us"]      # kubeconfig contexts for live audits
clouds = ["aws", "gcp"]                # which clouds live collection queries (default: all)
fail_on = "high"
suppressions = "suppressions.yaml"     # relative to this file
owner_labels = ["team", "owner"]       # namespace labels naming the owning team, first match wins
report_dir = "audits"                  # as --report-dir
disabled_rules = []
usage_window_days = 90                 # access unused for this long counts as unused

[severity_overrides]
"K8S-004" = "high"                     # never below the category's floor
```
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.engine import AnalysisConfig
from kubeiam.quarterly.ownership import DEFAULT_OWNER_LABELS
from kubeiam.quarterly.stores import is_url
from kubeiam.vocabulary.findings import Severity
from kubeiam.vocabulary.rules import Rule

CONFIG_NAME = "kubeiam.toml"
KNOWN = frozenset(
    {
        "contexts",
        "clouds",
        "fail_on",
        "suppressions",
        "owner_labels",
        "report_dir",
        "severity_overrides",
        "disabled_rules",
        "usage_window_days",
    }
)
"""The keys the core reads; a provider may declare tables of its own (`Declarations.settings`)."""


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    """The file it was read from; None for the built-in defaults."""
    contexts: tuple[str, ...] = ()
    clouds: tuple[str, ...] = ()
    """Empty: every installed cloud provider."""
    fail_on: Severity | None = None
    suppressions: Path | None = None
    owner_labels: tuple[str, ...] = DEFAULT_OWNER_LABELS
    report_dir: Path | str | None = None
    """A folder (relative to the config file), or an object-storage URL (kept as written)."""
    severity_overrides: Mapping[str, Severity] = field(default_factory=dict)
    disabled_rules: frozenset[str] = frozenset()
    usage_window_days: int = 90
    """Access not used for this many days counts as unused (usage data permitting)."""
    sections: Mapping[str, Any] = field(default_factory=dict)
    """Tables the core does not know (`[takeover]`), as written: providers declare and parse them (`checked`)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """`sections` parsed by the providers that declare them."""

    def checked(self, clouds: Collection[str], settings: Mapping[str, Callable[[Any], Any]] | None = None) -> Config:
        """Itself, once `clouds` names only clouds a provider declares (a typo must not skip a cloud) and every
        table the core does not know is one a provider declares and accepts (`settings`: name -> parse)."""
        where = self.path or CONFIG_NAME
        bad = [c for c in self.clouds if c not in clouds]
        if bad:
            raise InputError(f"{where}: clouds: unknown cloud(s) {', '.join(bad)} (known: {', '.join(clouds)})")
        settings = settings or {}
        unknown = sorted(set(self.sections) - set(settings))
        if unknown:
            raise InputError(
                f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KNOWN | set(settings)))})"
            )
        parsed = {}
        for name, raw in self.sections.items():
            try:
                parsed[name] = settings[name](raw)
            except ValueError as exc:
                raise InputError(f"{where}: {name}: {exc}") from None
        return replace(self, settings=parsed)

    def analysis(self, rules: Sequence[Rule]) -> AnalysisConfig:
        """The engine's settings. A rule id that no rule has, or a severity below the floor of the rule's
        category, is an input error: a typo or an impossible level must not silently weaken a gate."""
        where = self.path or CONFIG_NAME
        by_id = {r.id: r for r in rules}
        unknown = sorted((set(self.severity_overrides) | self.disabled_rules) - set(by_id))
        if unknown:
            raise InputError(f"{where}: unknown rule id(s) {', '.join(unknown)} (see `kubeiam rules`)")
        for rule_id, severity in sorted(self.severity_overrides.items()):
            floor = by_id[rule_id].category.floor
            if severity.rank < floor.rank:
                raise InputError(
                    f"{where}: severity_overrides.{rule_id} = {severity} is below {floor}, the floor of its "
                    f"category {by_id[rule_id].category} (docs/report.md)"
                )
        return AnalysisConfig(
            severity_overrides=dict(self.severity_overrides),
            disabled_rules=self.disabled_rules,
            source=str(self.path) if self.path else None,
            usage_window_days=self.usage_window_days,
            settings=dict(self.settings),
        )


def find_config(explicit: Path | None, cwd: Path | None = None) -> Config:
    """`--config FILE` (must exist), else `./kubeiam.toml` when present, else defaults."""
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"--config {explicit}: no such file")
        return load_config(explicit)
    candidate = (cwd or Path.cwd()) / CONFIG_NAME
    return load_config(candidate) if candidate.is_file() else Config()


def load_config(path: Path) -> Config:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    doc = {k.replace("-", "_"): v for k, v in doc.items()}
    # Tables (dicts) the core does not know are providers' sections, checked against what they declare.
    sections = {k: v for k, v in doc.items() if k not in KNOWN and isinstance(v, dict)}
    unknown = sorted(set(doc) - KNOWN - set(sections))
    if unknown:
        # Why strict: a misspelt key (`fail-on` vs `failon`) silently ignored would weaken a CI gate.
        raise InputError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KNOWN))})")
    base = path.parent
    clouds = _strings(path, doc, "clouds")  # checked against the providers' clouds (`checked`)
    overrides = doc.get("severity_overrides", {})
    if not isinstance(overrides, dict):
        raise InputError(f"{path}: severity_overrides must be a table of RULE-ID = severity")
    return Config(
        path=path,
        contexts=_strings(path, doc, "contexts"),
        clouds=clouds,
        fail_on=_severity(path, "fail_on", doc["fail_on"]) if "fail_on" in doc else None,
        suppressions=base / _string(path, doc, "suppressions") if "suppressions" in doc else None,
        owner_labels=_strings(path, doc, "owner_labels") or DEFAULT_OWNER_LABELS,
        report_dir=_report_dir(base, _string(path, doc, "report_dir")) if "report_dir" in doc else None,
        severity_overrides={
            str(rule): _severity(path, f"severity_overrides.{rule}", sev) for rule, sev in overrides.items()
        },
        usage_window_days=_days(path, doc.get("usage_window_days", 90)),
        sections=sections,
        disabled_rules=frozenset(_strings(path, doc, "disabled_rules")),
    )


def _string(path: Path, doc: Mapping[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str) or not value:
        raise InputError(f"{path}: {key} must be a non-empty string")
    return value


def _strings(path: Path, doc: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = doc.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"{path}: {key} must be a list of strings")
    return tuple(value)


def _severity(path: Path, key: str, value: Any) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise InputError(
            f"{path}: {key}: '{value}' is not a severity ({', '.join(s.value for s in Severity)})"
        ) from None


def _report_dir(base: Path, text: str) -> Path | str:
    return text if is_url(text) else base / text


def _days(path: Path, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        raise InputError(f"{path}: usage_window_days must be a whole number of days between 1 and 3650")
    return value
