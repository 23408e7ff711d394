"""Property-based fuzzing of every evidence reader (issue 12, item 11), on mutated copies of the demo and of
three evidence sets built from the public corpus (fuzz_corpus.py).

A mutation deletes a file, a key or a list item, gives a value another JSON type, wraps it in a list,
swaps a list and an object, puts unicode or control characters in a string, writes a huge or non-finite
number, or nests a value hundreds to 100,000 levels deep. Each is audited in-process, with the pristine
run as `--baseline`:

1. the run ends in exit 0, 1, 2 or 3, never with a traceback or "internal error"; exit 2 is one stderr
   line naming the file; any other exit writes the report (valid JSON for `--format json`);
2. one bad item below the top of a file never sinks the audit (exit 2) unless only the JSON parser could
   see it (not JSON, nested too deeply, a number no parser reads);
3. the key property: after a mutation that leaves evidence no cloud would print (INVALID), every finding
   of the pristine run that the mutated run lacks is `not_rechecked`, or a coverage entry names the
   mutated file. A finding still reported on the same subject by the same rule under another
   fingerprint has not vanished.

VALID or INVALID (fuzz_mutations.classify): a deleted file is INVALID (absent is not empty); a deleted key
is INVALID when the command always prints it and the reader needs it, or when it is an entry of a file
keyed by what was asked about, else VALID (the cloud may omit it); null is VALID where the key may be
absent; a deleted list item is INVALID when other evidence refers into that list (a managed policy, an
instance, a role definition), else VALID (a real state with one item fewer); a changed type, a list
where the grammar takes none, a swapped list/object, deep nesting and huge or non-finite numbers are
INVALID, except where the grammar allows them (IAM condition values: any scalar, scalar or list;
`Action`/`Resource`/`Principal` values: a string or a list); a changed string is VALID unless the key
takes a closed vocabulary (`Effect`, `HttpTokens`, `keyType`, ...): an unknown value is never the safe
one. VALID mutations are checked for properties 1 and 2 only: findings may rightly change.

Fixed seed (`derandomize=True`), no example database, bounded examples: this module is CI's share
(under a minute on two busy cores). scripts/fuzz.py runs the same properties for as long as asked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_corpus import all_sets
from fuzz_mutations import DELETE_FILE, Mutation
from fuzz_runs import Workbench, counterexample, problems
from fuzz_strategies import FORMATS, mutations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = {"demo": 40, "aws-managed-policies": 15, "gcp-predefined-roles": 15, "azure-builtin-roles": 15}
OTHER_FORMATS = FORMATS[1:]


def fuzz_settings(examples: int) -> settings:
    return settings(
        derandomize=True,  # the same examples on every run: CI is reproducible
        database=None,  # nothing written to .hypothesis/
        deadline=None,  # one audit is ~0.1 s, more on a loaded machine
        max_examples=examples,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@pytest.fixture(scope="module")
def benches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Workbench]:
    work = tmp_path_factory.mktemp("fuzz")
    return {ev.name: Workbench(ev, work / "runs" / ev.name) for ev in all_sets(work / "sets")}


def check(bench: Workbench, m: Mutation, fmt: str = "json", strict: bool = False) -> None:
    outcome = bench.run(m, fmt, strict=strict)
    found = problems(bench, m, outcome, fmt)
    assert not found, counterexample(bench, m, outcome, found)


def test_the_evidence_sets_audit_cleanly_before_any_mutation(benches):
    """The baselines the properties compare with: every set audits, with findings to lose."""
    assert set(benches) == set(EXAMPLES)
    for name, bench in benches.items():
        assert len(bench.baseline["findings"]) >= 10, name
        assert bench.baseline["coverage"]["unreadable"] == [], name


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_mutated_evidence_set_never_crashes_nor_loses_a_finding_silently(benches, name):
    bench = benches[name]

    @fuzz_settings(EXAMPLES[name])
    @given(m=mutations(bench.evidence), strict=st.booleans())
    def run(m: Mutation, strict: bool) -> None:
        check(bench, m, strict=strict)

    run()


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_every_output_format_survives_mutated_evidence(benches, fmt):
    """Properties 1 and 2 in each other format (the renderers meet what the readers let through)."""
    bench = benches["demo"]

    @fuzz_settings(2)
    @given(m=mutations(bench.evidence))
    def run(m: Mutation) -> None:
        check(bench, m, fmt)

    run()


def test_every_demo_file_deleted_alone_keeps_its_findings_accounted_for(benches):
    """Absent is not empty, file by file (the mutation the strategy draws one time in ten)."""
    bench = benches["demo"]
    failures = []
    for file in bench.evidence.files:
        m = Mutation(file, (), DELETE_FILE)
        outcome = bench.run(m)
        found = problems(bench, m, outcome)
        if found:
            failures.append(counterexample(bench, m, outcome, found))
    assert not failures, "\n\n".join(failures)


def test_the_working_copy_is_restored_after_each_mutation(benches):
    bench = benches["demo"]
    m = Mutation(bench.evidence.files[0], (), DELETE_FILE)
    bench.run(m)
    restored = sorted(p.relative_to(bench.copy).as_posix() for p in Path(bench.copy).rglob("*.json"))
    assert restored == sorted(bench.evidence.files)
