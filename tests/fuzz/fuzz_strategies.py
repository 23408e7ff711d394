"""Drawing mutations from an evidence set's actual content: a file, a JSON path in it and a change that fits
the value there.

One drawing procedure, two sources of choices: hypothesis (`mutations`, for the tests: it shrinks a
counterexample towards the first file, the document's root and the first kind) and a seeded
`random.Random` (`random_mutation`, for scripts/fuzz.py's time-bounded runs).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from fuzz_mutations import (
    HUGE_NUMBERS,
    NASTY_TEXT,
    NEST,
    NEST_DEPTHS,
    NUMBER,
    RETYPE,
    UNICODE,
    Mutation,
    get,
    kinds_for,
    retype_targets,
)
from fuzz_runs import EvidenceSet
from hypothesis import strategies as st

Choose = Callable[[Sequence[Any], str], Any]
"""choose(options, label) -> one of the options."""

FORMATS = ("json", "table", "jsonl", "sarif", "ocsf", "csv", "markdown", "html")
DELETE_ONE_IN = 10  # one mutation in ten deletes a whole file


def draw_mutation(choose: Choose, evidence: EvidenceSet) -> Mutation:
    """One mutation: a file, then (one time in DELETE_ONE_IN) its deletion, else a path in it and a change
    that fits the value there."""
    file = choose(evidence.files, "file")
    if choose(range(DELETE_ONE_IN), "delete the file unless > 0") == 0:
        return Mutation(file)
    doc = evidence.docs[file]
    path = choose(evidence.paths[file], "path")
    kind = choose(kinds_for(doc, path), "kind")
    old = get(doc, path)
    if kind == RETYPE:
        return Mutation(file, path, kind, choose(retype_targets(old), "replacement"))
    if kind == UNICODE:
        where = choose(("suffix", "prefix", "replace"), "where")
        return Mutation(file, path, kind, (where, choose(NASTY_TEXT, "text")))
    if kind == NUMBER:
        return Mutation(file, path, kind, choose(HUGE_NUMBERS, "number"))
    if kind == NEST:
        return Mutation(file, path, kind, choose(NEST_DEPTHS, "depth"))
    return Mutation(file, path, kind)


@st.composite
def mutations(draw: st.DrawFn, evidence: EvidenceSet) -> Mutation:
    return draw_mutation(lambda options, label: draw(st.sampled_from(options), label=label), evidence)


def random_mutation(rng: random.Random, evidence: EvidenceSet) -> Mutation:
    return draw_mutation(lambda options, _label: rng.choice(options), evidence)
