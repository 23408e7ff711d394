"""The optional guardrail files of one account, read together: its organization's SCPs and RCPs
(organization-policies.json) and its resource policies (s3-bucket-policies.json, and per region
kms-key-policies.json and secret-policies.json). Absent files cut nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError
from kubeiam_aws.evidence.organizations import Organization, read_organization, with_guardrails
from kubeiam_aws.evidence.resource_policies import read_resource_files
from kubeiam_aws.judge.resources import ResourceFile
from kubeiam_aws.view import Role


@dataclass
class AccountGuardrails:
    org: Organization | None = None
    resource_files: tuple[ResourceFile, ...] = ()
    errors: list[CoverageError] = field(default_factory=list)

    def apply(self, roles: list[Role]) -> list[Role]:
        return with_guardrails(roles, self.org)


def read_guardrails(evidence: Evidence, account: str) -> AccountGuardrails:
    org, errors = read_organization(evidence, account)
    files, file_errors = read_resource_files(evidence, account)
    return AccountGuardrails(org, files, errors + file_errors)
