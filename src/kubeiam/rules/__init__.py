"""The rule registry: the core's cloud-free rules plus each provider's own tuple."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kubeiam.rules.base import Match, Rule, rule
from kubeiam.rules.kubernetes import KUBERNETES_RULES

if TYPE_CHECKING:
    from kubeiam.providers import Provider

CORE_RULES: tuple[Rule, ...] = KUBERNETES_RULES


def all_rules(providers: Iterable[Provider]) -> tuple[Rule, ...]:
    rules = list(CORE_RULES)
    for provider in providers:
        rules.extend(provider.rules)
    ids = [r.id for r in rules]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise RuntimeError(f"duplicate rule ids: {sorted(duplicates)}")
    return tuple(rules)


__all__ = ["CORE_RULES", "Match", "Rule", "all_rules", "rule"]
