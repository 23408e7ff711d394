"""A second AWS estate whose policies are real: AWS managed policy documents from the public corpus
(fixtures/aws/corpus/aws-managed-policies.json.gz, all 1,643 from iam-dataset).

Same ServiceAccounts, namespaces, nodes and trusts as `estate.py`; each of the R roles has 2 AWS managed
policies attached and 1 inline policy, all 3 drawn at random from the corpus (so ReadOnlyAccess, with
thousands of actions, or AdministratorAccess turn up as they would in a real account, and the
conditions, NotAction, NotResource and policy variables of real documents are all read and judged).
Deterministic for a seed.

    python benchmarks/generate.py OUT --managed-policies fixtures/aws/corpus/aws-managed-policies.json.gz
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from estate import AwsEstate, Scale, build

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "aws" / "corpus" / "aws-managed-policies.json.gz"


def load_corpus(path: Path = CORPUS) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, ARN, document) of every policy of the vendored corpus, sorted by name."""
    with gzip.open(path) if path.suffix == ".gz" else path.open("rb") as f:
        policies = json.load(f)["policies"]
    return [(name, p["arn"], p["document"]) for name, p in sorted(policies.items())]


def build_managed(scale: Scale, corpus: list[tuple[str, str, dict[str, Any]]]) -> tuple[AwsEstate, dict[str, Any]]:
    """The estate (its roles' `managed` hold corpus ARNs, `inline` a corpus document) and the ARN -> document
    map of the attached policies."""
    base = build(scale, aws_managed=False)
    rng = random.Random(scale.seed + 1)
    roles, attached = [], {}
    for r in base.roles:
        picks = rng.sample(corpus, k=2)
        _, _, inline = rng.choice(corpus)
        attached.update((arn, doc) for _, arn, doc in picks)
        roles.append(replace(r, managed=tuple(arn for _, arn, _ in picks), inline=inline))
    return replace(base, roles=tuple(roles), policies=()), attached
