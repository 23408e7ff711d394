"""Parse the optional resource-policy files of an account: objects keyed by resource, each value what the
named command prints for it.

    aws/<account>/s3-bucket-policies.json          {"<bucket>": <aws s3api get-bucket-policy --bucket B>, or null
                                                     when the bucket has none (NoSuchBucketPolicy)}
    aws/<account>/<region>/kms-key-policies.json   {"<key ARN>": <aws kms get-key-policy --key-id ARN
                                                     --policy-name default>}
    aws/<account>/<region>/secret-policies.json    {"<secret ARN>": <aws secretsmanager get-resource-policy
                                                     --secret-id ARN>}

Each file lists every bucket (every key, every secret of the region) of the account: judge/resources.py then
decides whether a read of "every object / key / secret" reads anything. A value that cannot be read is a
coverage entry naming the file and the resource; that resource then counts as readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError
from kubeiam.vocabulary.policy import read_document
from kubeiam_aws.evidence.shapes import kind
from kubeiam_aws.judge.resources import KMS, S3, SECRETS, ResourceFile, ResourcePolicy

BUCKETS, KEYS, SECRET_POLICIES = "s3-bucket-policies.json", "kms-key-policies.json", "secret-policies.json"
_RULES = ("AWS-015",)


def read_resource_files(evidence: Evidence, account: str) -> tuple[tuple[ResourceFile, ...], list[CoverageError]]:
    files: list[ResourceFile] = []
    errors: list[CoverageError] = []

    def bucket_arn(name: str) -> str:
        return f"arn:aws:s3:::{name}"

    found = _read(evidence, f"aws/{account}/{BUCKETS}", S3, "Policy", bucket_arn, account, errors)
    files += [found] if found else []
    for region in evidence.children(f"aws/{account}"):
        for name, service, field in ((KEYS, KMS, "Policy"), (SECRET_POLICIES, SECRETS, "ResourcePolicy")):
            found = _read(evidence, f"aws/{account}/{region}/{name}", service, field, str, account, errors)
            files += [found] if found else []
    return tuple(files), errors


def _read(
    evidence: Evidence,
    relative: str,
    service: str,
    field: str,
    arn_of: Callable[[str], str],
    account: str,
    errors: list[CoverageError],
) -> ResourceFile | None:
    data = evidence.load(relative)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InputError(f"{relative}: expected an object keyed by resource, found {kind(data)}")
    resources = []
    for name, value in data.items():
        statements = _statements(value, field)
        if isinstance(statements, str):
            reason = f"'{name}': {statements}: counted as readable"
            errors.append(CoverageError("aws", relative, reason, subject=account, rules=_RULES))
            continue
        resources.append(ResourcePolicy(arn_of(name), statements))
    return ResourceFile(service, relative, tuple(resources))


def _statements(value: Any, field: str) -> tuple[Any, ...] | str | None:
    """The policy's statements, None when the resource has none, or why it cannot be read."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        return f"is {kind(value)}, not the command's output object"
    if value.get(field) is None:
        return None  # get-resource-policy prints no ResourcePolicy for a secret without one
    doc = read_document(value[field])
    if doc.problems:
        first = doc.problems[0]
        return f"{field} not understood ({first.item or 'document'}: {first.reason})"
    return doc.statements
