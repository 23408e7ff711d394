"""IMDS settings as EC2 reports them, read without guessing: a value that is missing, unknown or out of
range is never taken as the protected one. It stays None and is named (`ImdsOptions.unreadable`), or,
for what a launch template leaves unset, it is worked out as EC2 does when the evidence allows
(the template, then the account default of `get-instance-metadata-defaults`, then the AMI's
`ImdsSupport`, then EC2's own default) and named as unset when it does not (`ImdsOptions.unset`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeiam_aws.view import ImdsOptions

_TOKENS = ("required", "optional")
_ENDPOINT = ("enabled", "disabled")
MAX_HOPS = 64


def _show(value: Any) -> str:
    return json.dumps(value, default=str)[:24]


def _tokens(raw: Mapping[str, Any], key: str) -> tuple[str | None, str | None]:
    """(value, problem); (None, None) when the key is not set. Any case is EC2's value: `OPTIONAL` is optional."""
    if key not in raw:
        return None, None
    value = raw[key]
    if isinstance(value, str) and value.strip().lower() in _TOKENS:
        return value.strip().lower(), None
    return None, f"{key}={_show(value)}"


def _hops(raw: Mapping[str, Any], key: str, *, no_preference: bool = False) -> tuple[int | None, str | None]:
    if key not in raw:
        return None, None
    value = raw[key]
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():  # 1e999 is not: it is infinite
        number = int(value)
    if number == -1 and no_preference:
        return None, None
    if number is not None and 1 <= number <= MAX_HOPS:
        return number, None
    return None, f"{key}={_show(value)}"


def _endpoint(raw: Mapping[str, Any], key: str) -> str | None:
    """`disabled` only when it says so: anything else is the exposed value, `enabled`."""
    if key not in raw:
        return None
    value = raw[key]
    return "disabled" if isinstance(value, str) and value.strip().lower() == "disabled" else "enabled"


def instance_imds(raw: Any) -> ImdsOptions:
    """An instance's `MetadataOptions` (describe-instances always prints every setting)."""
    if not isinstance(raw, Mapping):
        what = "MetadataOptions missing" if raw is None else f"MetadataOptions is {_show(raw)}"
        return ImdsOptions(None, None, "enabled", unreadable=(what,))
    endpoint = _endpoint(raw, "HttpEndpoint") or "enabled"
    tokens, bad_tokens = _tokens(raw, "HttpTokens")
    hops, bad_hops = _hops(raw, "HttpPutResponseHopLimit")
    if endpoint == "disabled":
        return ImdsOptions(tokens, hops, endpoint)  # nothing to reach: the other settings do not matter
    problems = (
        bad_tokens or (None if tokens else "HttpTokens missing"),
        bad_hops or (None if hops else "HttpPutResponseHopLimit missing"),
    )
    return ImdsOptions(tokens, hops, endpoint, unreadable=tuple(p for p in problems if p))


def karpenter_imds(raw: Any) -> ImdsOptions:
    """An EC2NodeClass's `spec.metadataOptions`; Karpenter's documented defaults (IMDSv2 required, hop limit 1,
    endpoint enabled) fill what is not set."""
    if raw is None:
        return ImdsOptions("required", 1, "enabled")
    if not isinstance(raw, Mapping):
        return ImdsOptions(None, None, "enabled", unreadable=(f"metadataOptions is {_show(raw)}",))
    tokens, bad_tokens = _tokens(raw, "httpTokens")
    hops, bad_hops = _hops(raw, "httpPutResponseHopLimit")
    unreadable = tuple(p for p in (bad_tokens, bad_hops) if p)
    return ImdsOptions(
        tokens or (None if bad_tokens else "required"),
        hops or (None if bad_hops else 1),
        _endpoint(raw, "httpEndpoint") or "enabled",
        unreadable=unreadable,
    )


@dataclass(frozen=True, slots=True)
class AccountDefaults:
    """`aws ec2 get-instance-metadata-defaults`: what a launch that sets nothing gets (None: no preference)."""

    http_tokens: str | None = None
    hop_limit: int | None = None
    endpoint: str | None = None


def account_defaults(raw: Any) -> tuple[AccountDefaults, tuple[str, ...]]:
    """The `AccountLevel` object read, and what in it was not understood."""
    if not isinstance(raw, Mapping):
        return AccountDefaults(), (f"AccountLevel is {_show(raw)}",)
    tokens, bad_tokens = _tokens(raw, "HttpTokens")
    if bad_tokens and str(raw.get("HttpTokens")).lower() == "no-preference":
        tokens, bad_tokens = None, None
    hops, bad_hops = _hops(raw, "HttpPutResponseHopLimit", no_preference=True)
    endpoint = _endpoint(raw, "HttpEndpoint") if str(raw.get("HttpEndpoint")).lower() != "no-preference" else None
    return AccountDefaults(tokens, hops, endpoint), tuple(p for p in (bad_tokens, bad_hops) if p)


DEFAULTS_FILE = "instance-metadata-defaults.json"


def template_imds(raw: Any, defaults: AccountDefaults | None, ami_v2: bool | None) -> ImdsOptions:
    """A launch template's `MetadataOptions` with what it leaves unset worked out as EC2 does at launch.

    `defaults`: the account default (None: not in the evidence); `ami_v2`: whether the template's AMI has
    `ImdsSupport: v2.0` (None: not known). EC2's precedence: the launch's own settings, then the account
    default, then the AMI (v2.0: IMDSv2 required, hop limit 2), then EC2's default (optional, 1)."""
    unreadable: list[str] = []
    if raw is not None and not isinstance(raw, Mapping):
        unreadable.append(f"MetadataOptions is {_show(raw)}")
    options: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    tokens, bad_tokens = _tokens(options, "HttpTokens")
    hops, bad_hops = _hops(options, "HttpPutResponseHopLimit")
    unreadable += [p for p in (bad_tokens, bad_hops) if p]
    endpoint = _endpoint(options, "HttpEndpoint") or (defaults.endpoint if defaults else None) or "enabled"
    inherited: list[str] = []
    unset: list[str] = []
    if tokens is None and not bad_tokens and isinstance(raw, Mapping | None):
        found = _inherit("HttpTokens", defaults.http_tokens if defaults else None, defaults, ami_v2, "required")
        tokens = _record(found, "HttpTokens", inherited, unset)
    if hops is None and not bad_hops and isinstance(raw, Mapping | None):
        found = _inherit("HttpPutResponseHopLimit", defaults.hop_limit if defaults else None, defaults, ami_v2, 2)
        hops = _record(found, "HttpPutResponseHopLimit", inherited, unset)
    return ImdsOptions(tokens, hops, endpoint, tuple(unreadable), tuple(unset), tuple(inherited))


def _inherit(
    key: str, default: Any, defaults: AccountDefaults | None, ami_v2: bool | None, v2_value: Any
) -> tuple[Any, str] | None:
    if default is not None:
        return default, "the account default (instance-metadata-defaults.json)"
    if ami_v2:
        return v2_value, "the AMI (ImdsSupport v2.0)"
    if defaults is not None and ami_v2 is False:
        return ("optional" if key == "HttpTokens" else 1), "EC2's default (no account default, AMI without v2.0)"
    return None


def _record(found: tuple[Any, str] | None, key: str, inherited: list[str], unset: list[str]) -> Any:
    if found is None:
        unset.append(key)
        return None
    inherited.append(f"{key}={found[0]} from {found[1]}")
    return found[0]
