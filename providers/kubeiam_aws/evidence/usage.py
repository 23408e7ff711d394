"""The optional usage files of an AWS account (AWS-024), read as the commands print them (docs/evidence.md):

- `aws/<account>/service-last-accessed.json`: `{"<role ARN>": <aws iam get-service-last-accessed-details --job-id
  JOB>, ...}`, each job started with `aws iam generate-service-last-accessed-details --arn <role ARN> --granularity
  ACTION_LEVEL`; a SERVICE_LEVEL job's output (no `JobType`, as older CLIs print it) is read too;
- `aws/<account>/<region>/access-analyzer-unused.json`: `{"findings": [<aws accessanalyzer get-finding-v2
  --analyzer-arn A --id ID> ...]}` for the unused-access findings of `list-findings-v2` (their summaries alone are
  accepted: then which permissions are unused is not known), optionally `"analyzer": <the analyzer as
  list-analyzers prints it>` (its `unusedAccessAge` and exclusions);
- `RoleLastUsed` of each role in iam.json (read with the role, `role_last_used`).

A file that is not the command's shape at the top level is an `InputError`; an entry that cannot be read is a
coverage entry on its role (AWS-024 only) and the role's usage is then unknown, never "unused". A job that is
IN_PROGRESS or FAILED is no usage data. Absent files are coverage notes per role in scope (`usage_coverage`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, BinaryIO

import ijson

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError, IdentityLink, LinkStatus
from kubeiam_aws.evidence.shapes import kind, mapping, one_page, text
from kubeiam_aws.judge.conditions import parse_date
from kubeiam_aws.judge.usage_data import Analyzer, AnalyzerRole, LastAccessed, ServiceRecord, UsageData
from kubeiam_aws.view import Role

RULES = ("AWS-024",)
LAST_ACCESSED = "service-last-accessed.json"
ANALYZER = "access-analyzer-unused.json"
GET_COMMAND = "aws iam get-service-last-accessed-details --job-id JOB"
FINDINGS_COMMAND = "aws accessanalyzer list-findings-v2"
UNUSED_TYPES = ("UnusedIAMRole", "UnusedPermission")
DEFAULT_AGE = 90
"""IAM Access Analyzer's default `unusedAccessAge`."""


def role_last_used(value: Any) -> tuple[datetime | None, bool]:
    """`RoleLastUsed` of a role: (LastUsedDate, whether it was in the evidence). `{}` = not used in 400 days."""
    if not isinstance(value, Mapping):
        return None, False
    date = value.get("LastUsedDate")
    if date is None:
        return None, True
    when = parse_date(date) if isinstance(date, str) else None
    return when, when is not None


@dataclass
class UsageReader:
    errors: list[CoverageError] = field(default_factory=list)
    reports: dict[str, LastAccessed] = field(default_factory=dict)
    analyzer_roles: dict[str, AnalyzerRole] = field(default_factory=dict)
    analyzers: dict[str, Analyzer] = field(default_factory=dict)

    def read(self, evidence: Evidence, account: str, regions: Iterable[str]) -> None:
        self._last_accessed(evidence, account)
        for region in regions:
            self._analyzer(evidence, account, region)

    def data(self) -> UsageData:
        return UsageData(self.reports, self.analyzer_roles, self.analyzers)

    def _note(self, file: str, reason: str, subject: str) -> None:
        self.errors.append(CoverageError("aws", file, reason, subject=subject, rules=RULES))

    # -- service and action last accessed ------------------------------------------------------------

    def _last_accessed(self, evidence: Evidence, account: str) -> None:
        file = f"aws/{account}/{LAST_ACCESSED}"
        streamed = UsageReader()
        if streamed._stream(evidence, file, account):
            self.errors += streamed.errors
            self.reports.update(streamed.reports)
            evidence.read.append(file)
            return
        data = evidence.load(file)
        if data is None:
            return
        if not isinstance(data, dict):
            raise InputError(f"{file}: expected an object of role ARN -> {GET_COMMAND} output, found {kind(data)}")
        if "JobStatus" in data or "ServicesLastAccessed" in data:
            raise InputError(
                f"{file}: holds one job's output, not an object keyed by role ARN: write "
                f'{{"<role ARN>": <{GET_COMMAND} output>}}'
            )
        for key, value in data.items():
            self._entry(file, account, key, value)

    def _stream(self, evidence: Evidence, file: str, account: str) -> bool:
        """Read the file one role at a time, when it is plain UTF-8 JSON: a large account's file (100 MB for 5,000
        roles) parsed whole holds several times its size. False when the file is anything else (absent, another
        encoding, not an object of roles, not valid JSON, lone-surrogate escapes, a key twice): then it is read
        whole as `Evidence.load` reads every file, so that its errors are named the same way (this reader's
        results are then dropped)."""
        if not evidence.exists(file):
            return False
        seen: set[str] = set()
        try:
            with evidence.path(file).open("rb") as fh:
                first = fh.read(4096)
                if first.lstrip(b" \t\r\n")[:1] != b"{" or b"\x00" in first[:2]:
                    return False
                fh.seek(0)
                source = _Watched(fh)
                for key, value in ijson.kvitems(source, "", use_float=True):
                    if key in seen or key in ("JobStatus", "ServicesLastAccessed"):
                        return False
                    seen.add(key)
                    self._entry(file, account, key, value)
        except (ijson.JSONError, ValueError, OSError):
            return False
        return not source.escapes

    def _entry(self, file: str, account: str, key: str, value: Any) -> None:
        if ":role/" not in key or not key.startswith("arn:"):
            self._note(file, f"key {key[:80]!r} is not a role ARN: not read", account)
            return
        self._job(file, key, value)

    def _job(self, file: str, role: str, value: Any) -> None:
        if not isinstance(value, Mapping):
            return self._note(file, f"{role}: is {kind(value)}, not {GET_COMMAND} output", role)
        status = value.get("JobStatus")
        if status is None and "JobId" in value:
            return self._note(file, f"{role}: holds a JobId only: run {GET_COMMAND} with it", role)
        if status != "COMPLETED":
            shown = status if isinstance(status, str) else kind(status)
            error = text(mapping(value.get("Error")).get("Code"))
            return self._note(file, f"{role}: the job is {shown}{f' ({error})' if error else ''}: no usage read", role)
        services = value.get("ServicesLastAccessed")
        if not isinstance(services, list):
            return self._note(file, f"{role}: ServicesLastAccessed is {kind(services)}, not a list", role)
        page = one_page(file, value, GET_COMMAND + " --max-items 1000", role, RULES)
        if page is not None:
            self.errors.append(page)
        records: dict[str, ServiceRecord] = {}
        action_level = value.get("JobType") == "ACTION_LEVEL"
        for i, item in enumerate(services):
            rec = self._service(file, role, i, item)
            if rec is not None:
                action_level = action_level or rec.actions is not None
                records[rec.namespace] = rec
        taken = _date(value.get("JobCompletionDate")) or _date(value.get("JobCreationDate"))
        self.reports[role] = LastAccessed(role, file, taken, action_level, records, complete=page is None)

    def _service(self, file: str, role: str, i: int, item: Any) -> ServiceRecord | None:
        where = f"{role}: ServicesLastAccessed[{i}]"
        namespace = text(mapping(item).get("ServiceNamespace"))
        if namespace is None:
            self._note(file, f"{where} has no readable ServiceNamespace: that service is kept as granted", role)
            return None
        name = sys.intern(namespace.lower())
        last, ok = _optional_date(item.get("LastAuthenticated"))
        if not ok:
            self._note(file, f"{where}.LastAuthenticated is not a date: {name} kept as granted", role)
            return ServiceRecord(name, None, unreadable=True)
        tracked = item.get("TrackedActionsLastAccessed")
        if tracked is None:
            return ServiceRecord(name, last)
        if not isinstance(tracked, list):
            self._note(file, f"{where}.TrackedActionsLastAccessed is {kind(tracked)}: {name} kept as granted", role)
            return ServiceRecord(name, last, unreadable=True)
        actions = _tracked(tracked)
        if isinstance(actions, int):
            j = actions
            self._note(file, f"{where}.TrackedActionsLastAccessed[{j}] not understood: {name} kept as granted", role)
            return ServiceRecord(name, last, unreadable=True)
        return ServiceRecord(name, last, actions)

    # -- IAM Access Analyzer ---------------------------------------------------------------------------

    def _analyzer(self, evidence: Evidence, account: str, region: str) -> None:
        file = f"aws/{account}/{region}/{ANALYZER}"
        data = evidence.load(file)
        if data is None:
            return
        if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
            found = kind(data) if not isinstance(data, dict) else f"'findings' {kind(data.get('findings'))}"
            raise InputError(
                f'{file}: expected {{"findings": [...]}} ({FINDINGS_COMMAND} output, each finding as get-finding-v2 '
                f"prints it), found {found}"
            )
        page = one_page(file, data, FINDINGS_COMMAND, account, RULES)
        if page is not None:
            self.errors.append(page)
        age, age_known, exclusions = _configuration(data.get("analyzer"))
        analyzed: list[datetime] = []
        for i, item in enumerate(data["findings"]):
            when = self._finding(file, i, item, age, account)
            if when is not None:
                analyzed.append(when)
        if account not in self.analyzers:  # one analyzer per account decides; the first region's file
            self.analyzers[account] = Analyzer(
                file, max(analyzed, default=None), age, age_known, page is None and not exclusions
            )

    def _finding(self, file: str, i: int, item: Any, age: int, account: str) -> datetime | None:
        finding = mapping(item)
        resource = text(finding.get("resource"))
        kind_of = finding.get("findingType")
        if kind_of not in UNUSED_TYPES or finding.get("status") == "RESOLVED":
            return None  # external access, users' keys and passwords: not a role's unused access
        if resource is None or ":role/" not in resource:
            self._note(file, f"findings[{i}] names no readable role: not read", account)
            return None
        analyzed = _date(finding.get("analyzedAt")) or _date(finding.get("updatedAt"))
        previous = self.analyzer_roles.get(resource)
        out = previous or AnalyzerRole(resource, file, analyzed, age)
        details = finding.get("findingDetails")
        if details is None:
            # Without details, an UnusedPermission finding leaves unknown which services; UnusedIAMRole is the role.
            unused_permission = kind_of == "UnusedPermission"
            out = _replace(out, details=False) if unused_permission else _replace(out, unused_role=True)
            self.analyzer_roles[resource] = out
            return analyzed
        if not isinstance(details, list):
            self._note(file, f"findings[{i}].findingDetails is {kind(details)}, not a list: not read", resource)
            return None
        services = dict(out.services)
        for j, d in enumerate(details):
            where = f"findings[{i}].findingDetails[{j}]"
            role_part = mapping(d).get("unusedIamRoleDetails")
            perm_part = mapping(d).get("unusedPermissionDetails")
            if isinstance(role_part, Mapping):
                last, ok = _optional_date(role_part.get("lastAccessed"))
                out = _replace(out, unused_role=True, role_last=last if ok else None)
            elif isinstance(perm_part, Mapping):
                rec = self._permission(file, where, resource, perm_part)
                if rec is None:
                    out = _replace(out, details=False)
                else:
                    services[rec.namespace] = rec
            else:
                self._note(file, f"{where}: not an unused-access detail: not read", resource)
        self.analyzer_roles[resource] = _replace(out, services=services)
        return analyzed

    def _permission(self, file: str, where: str, role: str, part: Mapping[str, Any]) -> ServiceRecord | None:
        namespace = text(part.get("serviceNamespace"))
        last, ok = _optional_date(part.get("lastAccessed"))
        actions = part.get("actions")
        if namespace is None or not ok or not isinstance(actions, list | None):
            self._note(file, f"{where}.unusedPermissionDetails not understood: its services are kept", role)
            return None
        found: dict[str, datetime | None] = {}
        for a in actions or ():
            name = text(mapping(a).get("action"))
            when, ok = _optional_date(mapping(a).get("lastAccessed"))
            if name is None or not ok:
                self._note(file, f"{where}.unusedPermissionDetails.actions not understood: kept", role)
                return None
            found[name.split(":", 1)[-1]] = when
        return ServiceRecord(namespace.lower(), last, found or None)


class _Watched:
    """A binary file as ijson reads it, noting `\\ud` escapes: `Evidence.load` replaces lone surrogates, ijson
    does not, so a file with them is read the way every file is."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.tail = b""
        self.escapes = False

    def read(self, size: int = -1) -> bytes:
        chunk = self.fh.read(size)
        joined = self.tail + chunk[:4]
        self.escapes = self.escapes or b"\\ud" in joined or b"\\uD" in joined or b"\\ud" in chunk or b"\\uD" in chunk
        self.tail = chunk[-2:]
        return chunk


def _replace(role: AnalyzerRole, **changes: Any) -> AnalyzerRole:
    from dataclasses import replace

    return replace(role, **changes)


def _configuration(analyzer: Any) -> tuple[int, bool, bool]:
    """(unusedAccessAge, whether the file says it, whether the analyzer excludes anything)."""
    unused = mapping(mapping(mapping(analyzer).get("configuration")).get("unusedAccess"))
    age = unused.get("unusedAccessAge")
    rule = mapping(unused.get("analysisRule"))
    excludes = bool(rule.get("exclusions"))
    if isinstance(age, int) and not isinstance(age, bool) and age > 0:
        return age, True, excludes
    return DEFAULT_AGE, False, excludes


@lru_cache(maxsize=4096)
def _parsed(value: str) -> datetime | None:
    """Each distinct date string parsed once: a job's thousands of actions share a few dozen moments."""
    return parse_date(value)


def _tracked(tracked: list[Any]) -> dict[str, datetime | None] | int:
    """TrackedActionsLastAccessed as action name -> last accessed, or the index of the first item not understood.
    The hot loop of the file (a million items in a large account): dict items checked by type, not as Mappings;
    names interned, as thousands of roles name the same actions."""
    actions: dict[str, datetime | None] = {}
    for j, action in enumerate(tracked):
        if type(action) is not dict:
            action = mapping(action)
        action_name = action.get("ActionName")
        value = action.get("LastAccessedTime")
        if value is None:
            when = None
        elif isinstance(value, str):
            when = _parsed(value)
            if when is None:
                return j
        else:
            return j
        if not isinstance(action_name, str) or not action_name:
            return j
        actions[sys.intern(action_name)] = when
    return actions


def _date(value: Any) -> datetime | None:
    return _parsed(value) if isinstance(value, str) else None


def _optional_date(value: Any) -> tuple[datetime | None, bool]:
    """(date, understood): absent or null is no date (not used in the period), a string must be one."""
    if value is None:
        return None, True
    when = _date(value)
    return when, when is not None


# -- coverage ---------------------------------------------------------------------------------------


def usage_coverage(
    links: Iterable[IdentityLink], roles: Mapping[str, Role], data: UsageData, said_before: Iterable[CoverageError]
) -> list[CoverageError]:
    """One note per role in scope whose service-level use is not in the evidence (never "unused"); `said_before`:
    the collection's errors and the usage files' own entries."""
    # A role a collection error or an unreadable entry already names is not named twice.
    said = {e.subject for e in said_before if e.source == "aws" and (not e.rules or "AWS-024" in e.rules)}
    out: list[CoverageError] = []
    seen: set[str] = set()
    for link in links:
        role = roles.get(link.principal)
        if link.status is not LinkStatus.RESOLVED or role is None or role.arn in seen:
            continue
        seen.add(role.arn)
        if role.arn in said or data.covers(role.arn, role.account):
            continue
        file = f"aws/{role.account}/{LAST_ACCESSED}"
        if role.last_used_read:
            reason = f"no entry for the role in {file}: only whether it was used is judged (RoleLastUsed)"
        else:
            reason = f"no usage data (RoleLastUsed, {file}): unused access not checked"
        out.append(CoverageError("aws", file, reason, subject=role.arn, rules=RULES))
    return out
