"""Parse the EC2 files of one account and region: `ec2-instances.json` (describe-instances),
`launch-template-versions.json` (describe-launch-template-versions), and the optional
`instance-metadata-defaults.json` (get-instance-metadata-defaults) and `images.json` (describe-images)
that decide what a launch template without `MetadataOptions` gives its nodes.

An item that cannot be read (no instance id, a profile that is not an object) is a coverage error
naming the file and the item; the rest of the file is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError
from kubeiam_aws.evidence.imds import DEFAULTS_FILE, AccountDefaults, account_defaults, instance_imds, template_imds
from kubeiam_aws.evidence.shapes import kind, mapping, one_page, text
from kubeiam_aws.view import ImdsOptions

IMDS_RULES = ("AWS-020", "AWS-021", "AWS-023")
TEMPLATE_RULES = ("AWS-022",)


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    account: str
    region: str
    imds: ImdsOptions
    instance_profile: str | None
    tags: Mapping[str, str]
    source: str
    item: str = ""
    """Where in the file: `Reservations[0].Instances[2]`."""
    problems: tuple[str, ...] = ()
    """Fields other than IMDS that could not be read (the instance profile: then the node role is unknown)."""


@dataclass(frozen=True, slots=True)
class LaunchTemplateVersion:
    template_id: str
    name: str
    version: int
    default: bool
    imds: ImdsOptions
    instance_profile: str | None
    source: str
    item: str = ""


@dataclass
class Ec2Files:
    """Everything read from one account's EC2 files (all regions), with what could not be read."""

    instances: dict[str, Instance] = field(default_factory=dict)
    templates: list[LaunchTemplateVersion] = field(default_factory=list)
    errors: list[CoverageError] = field(default_factory=list)


def _tags(raw: Any) -> tuple[dict[str, str], bool]:
    if raw is None:
        return {}, True
    if not isinstance(raw, list):
        return {}, False
    tags = {t["Key"]: str(t.get("Value")) for t in raw if isinstance(t, Mapping) and isinstance(t.get("Key"), str)}
    return tags, len(tags) == len(raw)


def _profile(raw: Any, *keys: str) -> tuple[str | None, bool]:
    """(instance profile ARN or name, readable)."""
    if raw is None:
        return None, True
    found = next((text(raw.get(k)) for k in keys if text(raw.get(k))), None) if isinstance(raw, Mapping) else None
    return found, found is not None


def read_instances(evidence: Evidence, account: str, region: str, out: Ec2Files) -> None:
    relative = f"aws/{account}/{region}/ec2-instances.json"
    data = evidence.load(relative)
    if data is None:
        return
    reservations = data.get("Reservations") if isinstance(data, dict) else data
    if isinstance(data, dict) and "Reservations" not in data:
        raise InputError(f"{relative}: missing field 'Reservations'")
    if not isinstance(reservations, list):
        raise InputError(f"{relative}: field 'Reservations' must be a list, found {kind(reservations)}")
    page = one_page(relative, data, "aws ec2 describe-instances", account, IMDS_RULES)
    out.errors += [page] if page else []
    for i, res in enumerate(reservations):
        items = res.get("Instances") if isinstance(res, Mapping) else None
        if not isinstance(items, list):
            out.errors.append(_item_error(relative, f"Reservations[{i}]", "has no 'Instances' list", account))
            continue
        for j, inst in enumerate(items):
            item = f"Reservations[{i}].Instances[{j}]"
            iid = text(inst.get("InstanceId")) if isinstance(inst, Mapping) else None
            if iid is None:
                out.errors.append(_item_error(relative, item, "has no 'InstanceId': its node is not checked", account))
                continue
            profile, profile_ok = _profile(inst.get("IamInstanceProfile"), "Arn")
            tags, tags_ok = _tags(inst.get("Tags"))
            problems = ([] if profile_ok else ["IamInstanceProfile"]) + ([] if tags_ok else ["Tags"])
            out.instances[iid] = Instance(
                iid,
                account,
                region,
                instance_imds(inst.get("MetadataOptions")),
                profile,
                tags,
                relative,
                item,
                tuple(problems),
            )


def _item_error(relative: str, item: str, what: str, subject: str, rules: tuple[str, ...] = ()) -> CoverageError:
    return CoverageError("aws", relative, f"{item} {what}", subject=subject, rules=rules)


def read_defaults(evidence: Evidence, account: str, region: str, out: Ec2Files) -> AccountDefaults | None:
    """The account's IMDS defaults in this region; None when the file is absent or not understood."""
    relative = f"aws/{account}/{region}/{DEFAULTS_FILE}"
    data = evidence.load_object(relative, "AccountLevel")
    if data is None:
        return None
    defaults, problems = account_defaults(data["AccountLevel"])
    if problems:
        reason = f"AccountLevel: {', '.join(problems)} not understood: the defaults are not used"
        out.errors.append(CoverageError("aws", relative, reason, subject=account, rules=TEMPLATE_RULES))
        return None
    return defaults


def read_images(evidence: Evidence, account: str, region: str, out: Ec2Files) -> dict[str, bool]:
    """AMI id -> whether it has `ImdsSupport: v2.0` (describe-images of the launch templates' AMIs)."""
    relative = f"aws/{account}/{region}/images.json"
    images = evidence.load_list(relative, "Images")
    found: dict[str, bool] = {}
    for i, image in enumerate(images or ()):
        image_id = text(image.get("ImageId")) if isinstance(image, Mapping) else None
        if image_id is None:
            out.errors.append(_item_error(relative, f"Images[{i}]", "has no 'ImageId'", account, TEMPLATE_RULES))
            continue
        found[image_id] = image.get("ImdsSupport") == "v2.0"
    return found


def read_launch_templates(
    evidence: Evidence,
    account: str,
    region: str,
    out: Ec2Files,
    defaults: AccountDefaults | None,
    amis: Mapping[str, bool],
) -> None:
    relative = f"aws/{account}/{region}/launch-template-versions.json"
    data = evidence.load(relative)
    if data is None:
        return
    versions = data.get("LaunchTemplateVersions") if isinstance(data, dict) else data
    if isinstance(data, dict) and "LaunchTemplateVersions" not in data:
        raise InputError(f"{relative}: missing field 'LaunchTemplateVersions'")
    if not isinstance(versions, list):
        raise InputError(f"{relative}: field 'LaunchTemplateVersions' must be a list, found {kind(versions)}")
    page = one_page(relative, data, "aws ec2 describe-launch-template-versions", account, TEMPLATE_RULES)
    out.errors += [page] if page else []
    for i, v in enumerate(versions):
        item = f"LaunchTemplateVersions[{i}]"
        raw = mapping(v)
        template_id, number = text(raw.get("LaunchTemplateId")), raw.get("VersionNumber")
        if template_id is None or not isinstance(number, int) or isinstance(number, bool):
            what = "has no 'LaunchTemplateId' or integer 'VersionNumber': the node groups using it are not checked"
            out.errors.append(_item_error(relative, item, what, account, TEMPLATE_RULES))
            continue
        data_ = raw.get("LaunchTemplateData")
        imds = template_imds(
            mapping(data_).get("MetadataOptions") if data_ is None or isinstance(data_, Mapping) else data_,
            defaults,
            amis.get(text(mapping(data_).get("ImageId")) or ""),
        )
        profile, _ = _profile(mapping(data_).get("IamInstanceProfile"), "Arn", "Name")
        out.templates.append(
            LaunchTemplateVersion(
                template_id=template_id,
                name=text(raw.get("LaunchTemplateName")) or "",
                version=number,
                default=raw.get("DefaultVersion") is True,
                imds=imds,
                instance_profile=profile,
                source=relative,
                item=item,
            )
        )


def read_ec2(evidence: Evidence, account: str, region: str, out: Ec2Files) -> None:
    read_instances(evidence, account, region, out)
    defaults = read_defaults(evidence, account, region, out)
    amis = read_images(evidence, account, region, out)
    read_launch_templates(evidence, account, region, out, defaults, amis)
