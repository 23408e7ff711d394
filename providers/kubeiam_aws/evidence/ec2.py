"""Parse the EC2 files of one account and region: `ec2-instances.json` (describe-instances) and
`launch-template-versions.json` (describe-launch-template-versions), with their IMDS settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam_aws.view import ImdsOptions


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    account: str
    region: str
    imds: ImdsOptions
    instance_profile: str | None
    tags: Mapping[str, str]
    source: str


@dataclass(frozen=True, slots=True)
class LaunchTemplateVersion:
    template_id: str
    name: str
    version: int
    default: bool
    imds: ImdsOptions
    instance_profile: str | None
    source: str


def imds_options(raw: Any, *, karpenter: bool = False) -> ImdsOptions:
    """MetadataOptions (EC2, PascalCase) or metadataOptions (Karpenter, camelCase)."""
    raw = raw if isinstance(raw, Mapping) else {}
    if karpenter:
        # Karpenter's documented defaults: IMDSv2 required, hop limit 1, endpoint enabled.
        hop = raw.get("httpPutResponseHopLimit", 1)
        return ImdsOptions(raw.get("httpTokens", "required"), _int(hop), raw.get("httpEndpoint", "enabled"))
    hop = raw.get("HttpPutResponseHopLimit")
    return ImdsOptions(raw.get("HttpTokens"), _int(hop), raw.get("HttpEndpoint"))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def read_instances(evidence: Evidence, account: str, region: str) -> list[Instance]:
    relative = f"aws/{account}/{region}/ec2-instances.json"
    reservations = evidence.load_list(relative, "Reservations")
    if reservations is None:
        return []
    out = []
    for i, res in enumerate(reservations):
        if not isinstance(res, Mapping) or not isinstance(res.get("Instances", []), list):
            raise InputError(f"{relative}: Reservations[{i}]: field 'Instances' must be a list")
        for j, inst in enumerate(res.get("Instances", [])):
            if not isinstance(inst, Mapping) or "InstanceId" not in inst:
                raise InputError(f"{relative}: Reservations[{i}].Instances[{j}]: missing field 'InstanceId'")
            tags = {str(t.get("Key")): str(t.get("Value")) for t in inst.get("Tags") or [] if isinstance(t, Mapping)}
            out.append(
                Instance(
                    instance_id=inst["InstanceId"],
                    account=account,
                    region=region,
                    imds=imds_options(inst.get("MetadataOptions")),
                    instance_profile=(inst.get("IamInstanceProfile") or {}).get("Arn"),
                    tags=tags,
                    source=relative,
                )
            )
    return out


def read_launch_templates(evidence: Evidence, account: str, region: str) -> list[LaunchTemplateVersion]:
    relative = f"aws/{account}/{region}/launch-template-versions.json"
    versions = evidence.load_list(relative, "LaunchTemplateVersions")
    if versions is None:
        return []
    out = []
    for i, v in enumerate(versions):
        if not isinstance(v, Mapping) or "LaunchTemplateId" not in v or "VersionNumber" not in v:
            raise InputError(
                f"{relative}: LaunchTemplateVersions[{i}]: missing field 'LaunchTemplateId' or 'VersionNumber'"
            )
        data = v.get("LaunchTemplateData") or {}
        profile = data.get("IamInstanceProfile") or {}
        out.append(
            LaunchTemplateVersion(
                template_id=v["LaunchTemplateId"],
                name=str(v.get("LaunchTemplateName", "")),
                version=int(v["VersionNumber"]),
                default=bool(v.get("DefaultVersion")),
                imds=imds_options(data.get("MetadataOptions")),
                instance_profile=profile.get("Arn") or profile.get("Name"),
                source=relative,
            )
        )
    return out
