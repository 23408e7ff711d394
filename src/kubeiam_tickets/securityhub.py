"""AWS Security Hub: kubeiam's findings imported in ASFF as a custom integration, through boto3.

- `ProductArn` is the account's own default product, `arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`;
  `Id` is `kubeiam/<fingerprint>`, so an import of the same finding updates it (an upsert: no duplicate
  can exist, and no journal is needed).
- Provider fields (title, description, severity through `FindingProviderFields`, resources,
  `RecordState`) go through `BatchImportFindings`; the investigation status (`Workflow`) through
  `BatchUpdateFindings`, the only way Security Hub accepts it after a finding exists.
- Resolved: Workflow RESOLVED, then RecordState ARCHIVED (in that order: stopped in between, the
  finding is still ACTIVE and the re-run finishes it). Regression: Workflow NEW, then ACTIVE again.
  Suppressed with `--close-suppressed`: Workflow SUPPRESSED with the reason as its note.
- Security Hub has no comments: a finding that could not be re-checked is left exactly as it is.
- Throttling (`TooManyRequestsException`) is retried by botocore (standard retry mode unless
  AWS_RETRY_MODE says otherwise).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from kubeiam.errors import InputError
from kubeiam_tickets.execute import TrackerError
from kubeiam_tickets.markup import Comment
from kubeiam_tickets.model import Content, Ticket
from kubeiam_tickets.render import one_line, subject_of

ID_PREFIX = "kubeiam/"
SCHEMA_VERSION = "2018-10-08"
LABELS = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW", "info": "INFORMATIONAL"}
TYPE_PREFIX = "Software and Configuration Checks/Kubernetes Workload Identity/"
_DENIED = ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId",
           "InvalidAccessException", "ExpiredTokenException")  # fmt: skip
# What a provider writes back when it archives a finding it made: the required ASFF fields and its own.
_PROVIDER_KEYS = ("SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt",
                  "Severity", "Title", "Description", "Resources", "Remediation", "FindingProviderFields",
                  "CompanyName", "ProductName")  # fmt: skip


def from_environment(region: str | None, *, page_size: int = 100) -> SecurityHubTracker:
    """The usual AWS credential chain (environment, profile, SSO, instance role); AWS_ENDPOINT_URL is honoured."""
    retries = {} if os.environ.get("AWS_RETRY_MODE") else {"retries": {"mode": "standard", "max_attempts": 8}}
    with _calls("connect"):
        session = boto3.session.Session(region_name=region)
        if not session.region_name:
            raise InputError("tickets --to securityhub: name the region with --region (or AWS_REGION)")
        config = Config(**retries)
        account = session.client("sts", config=config).get_caller_identity()["Account"]
        client = session.client("securityhub", config=config)
    return SecurityHubTracker(client, session.region_name, account, page_size=page_size)


@contextmanager
def _calls(what: str) -> Iterator[None]:
    try:
        yield
    except (NoCredentialsError, NoRegionError) as exc:
        raise InputError(f"securityhub: {what}: {exc}") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = one_line(exc.response.get("Error", {}).get("Message", ""), 200)
        if code in _DENIED:
            raise InputError(f"securityhub: {what}: {code}: {message}") from None
        raise TrackerError(f"securityhub: {what}: {code}: {message}") from None
    except (BotoCoreError, OSError) as exc:
        raise TrackerError(f"securityhub: {what}: {one_line(exc, 200)}") from None


class SecurityHubTracker:
    comments = False
    journal_name: str | None = None

    def __init__(self, client: Any, region: str, account: str, *, page_size: int = 100) -> None:
        self.client, self.region, self.account, self.page_size = client, region, account, page_size
        self.product_arn = f"arn:aws:securityhub:{region}:{account}:product/{account}/default"
        self.target = f"securityhub {region} account {account}"

    def list_tickets(self, known: Iterable[str]) -> list[Ticket]:
        filters = {
            "ProductArn": [{"Value": self.product_arn, "Comparison": "EQUALS"}],
            "Id": [{"Value": ID_PREFIX, "Comparison": "PREFIX"}],
        }
        out = []
        with _calls("GetFindings"):
            pages = self.client.get_paginator("get_findings").paginate(
                Filters=filters, PaginationConfig={"PageSize": self.page_size}
            )
            for page in pages:
                for f in page["Findings"]:
                    # Filter again here: the filters are the contract, and moto (the tests' server) ignores them.
                    if f.get("ProductArn") == self.product_arn and str(f.get("Id", "")).startswith(ID_PREFIX):
                        out.append(_ticket(f))
        return out

    # --- writing ---

    def create(self, content: Content) -> Ticket:
        finding = self.asff(content, created=None, record_state="ACTIVE")
        self._import(finding)
        return _ticket(finding)

    def update(self, ticket: Ticket, content: Content) -> None:
        self._import(self.asff(content, created=ticket.handle.get("CreatedAt"), record_state="ACTIVE"))

    def reopen(self, ticket: Ticket, content: Content, comment: Comment) -> None:
        self._workflow(ticket, "NEW")
        self.update(ticket, content)

    def close(self, ticket: Ticket, comment: Comment, *, reason: str) -> None:
        if reason == "suppressed":
            self._workflow(ticket, "SUPPRESSED", note=comment.text)
            return
        self._workflow(ticket, "RESOLVED")
        archived = {k: ticket.handle[k] for k in _PROVIDER_KEYS if k in ticket.handle}
        fields = {k: v for k, v in (ticket.handle.get("ProductFields") or {}).items() if not k.startswith("aws/")}
        self._import({**archived, "ProductFields": fields, "UpdatedAt": _now(), "RecordState": "ARCHIVED"})

    def note(self, ticket: Ticket, comment: Comment) -> None:  # pragma: no cover - comments is False
        raise TrackerError("securityhub: findings take no comments")

    def _import(self, finding: dict[str, Any]) -> None:
        with _calls(f"BatchImportFindings {finding['Id']}"):
            result = self.client.batch_import_findings(Findings=[finding])
        if result.get("FailedCount"):
            failed = (result.get("FailedFindings") or [{}])[0]
            why = f"{failed.get('ErrorCode')}: {one_line(failed.get('ErrorMessage') or '', 200)}"
            raise TrackerError(f"securityhub: BatchImportFindings {finding['Id']}: {why}")

    def _workflow(self, ticket: Ticket, status: str, note: str | None = None) -> None:
        request: dict[str, Any] = {
            "FindingIdentifiers": [{"Id": ticket.ident, "ProductArn": self.product_arn}],
            "Workflow": {"Status": status},
        }
        if note:
            request["Note"] = {"Text": note[:512], "UpdatedBy": "kubeiam"}
        with _calls(f"BatchUpdateFindings {ticket.ident} ({status})"):
            result = self.client.batch_update_findings(**request)
        if result.get("UnprocessedFindings"):
            failed = result["UnprocessedFindings"][0]
            why = f"{failed.get('ErrorCode')}: {one_line(failed.get('ErrorMessage') or '', 200)}"
            raise TrackerError(f"securityhub: BatchUpdateFindings {ticket.ident}: {why}")

    def asff(self, content: Content, *, created: str | None, record_state: str) -> dict[str, Any]:
        """The finding in the AWS Security Finding Format."""
        f = content.source or {}
        now = _now()
        label = {"Label": LABELS[content.severity], "Original": content.severity}
        types = [TYPE_PREFIX + str(f.get("category") or "finding")]
        section = content.sections[0]
        description = f"{subject_of(f)}. Evidence: {section.evidence}"
        return {
            "SchemaVersion": SCHEMA_VERSION,
            "Id": ID_PREFIX + content.key,
            "ProductArn": self.product_arn,
            "GeneratorId": f"kubeiam/{f.get('rule_id')}",
            "AwsAccountId": self.account,
            "Types": types,
            "CreatedAt": created or str(f.get("first_seen") or now),
            "UpdatedAt": now,
            "Severity": label,
            "FindingProviderFields": {"Severity": label, "Types": types},
            "Title": one_line(content.title, 256),
            "Description": _cut(description, 1024),
            "Remediation": {"Recommendation": {"Text": _cut(section.remediation, 512)}},
            "ProductFields": _strings(
                {
                    "kubeiam/key": content.key,
                    "kubeiam/digest": content.digest,
                    "kubeiam/rule_id": f.get("rule_id"),
                    "kubeiam/owner": f.get("owner"),
                }
            ),
            "Resources": self._resources(f),
            "RecordState": record_state,
            "CompanyName": "kubeiam",
            "ProductName": "kubeiam",
        }

    def _resources(self, f: Mapping[str, Any]) -> list[dict[str, Any]]:
        cluster = f.get("cluster_id") or f.get("cluster")
        if f.get("node"):
            ident = f"kubernetes://{cluster}/nodes/{f['node']}"
        else:
            ident = f"kubernetes://{cluster}/namespaces/{f.get('namespace')}/serviceaccounts/{f.get('service_account')}"
        keys = ("cluster", "namespace", "service_account", "node", "cloud", "principal", "owner", "rule_id", "category")
        other = _strings({k: f.get(k) for k in keys})
        subject = {"Type": "Other", "Id": ident, "Partition": "aws", "Region": self.region, "Details": {"Other": other}}
        resources = [subject]
        principal = str(f.get("principal") or "")
        if principal.startswith("arn:aws:iam::") and ":role/" in principal:
            resources.append({"Type": "AwsIamRole", "Id": principal, "Partition": "aws", "Region": self.region})
        return resources


def _ticket(f: Mapping[str, Any]) -> Ticket:
    fields = f.get("ProductFields") or {}
    key = fields.get("kubeiam/key") or str(f["Id"])[len(ID_PREFIX) :]
    workflow = (f.get("Workflow") or {}).get("Status", "NEW")
    # ACTIVE and not suppressed is open; ACTIVE + RESOLVED is a close stopped half-way (or a person's
    # call while kubeiam still finds it): open, so a resolved finding's close is finished by the re-run.
    is_open = f.get("RecordState", "ACTIVE") == "ACTIVE" and workflow != "SUPPRESSED"
    return Ticket(key, str(f["Id"]), str(f["Id"]), is_open, fields.get("kubeiam/digest"), (), 0, dict(f))


def _strings(values: Mapping[str, Any]) -> dict[str, str]:
    return {k: _cut(str(v), 1024) for k, v in values.items() if v is not None and v != ""}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
