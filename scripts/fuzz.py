#!/usr/bin/env python3
"""Fuzz every evidence reader for a given time: the properties of tests/fuzz/test_fuzz_evidence.py (read its
docstring), on mutated copies of the demo and of the corpus evidence sets, for as long as asked.

    .venv/bin/python scripts/fuzz.py                  # 600 s, seed 0
    .venv/bin/python scripts/fuzz.py --seconds 60 --seed 7
    .venv/bin/python scripts/fuzz.py --seed 7 --replay 1234   # run number 1234 of seed 7 again, alone

Run n of seed s draws its evidence set, mutation, output format and --strict from its own generator
(seeded "s:n"), so every failure is reproduced by --seed s --replay n. Each run is audited as JSON (and,
one run in four, also in another format). Prints the runs made, mutations per kind, distinct mutations
and every failure with the mutation that caused it; exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

from fuzz_corpus import all_sets
from fuzz_mutations import KINDS
from fuzz_runs import Workbench, counterexample, problems, refingerprinted, resolved_despite_coverage
from fuzz_strategies import FORMATS, random_mutation


@dataclass
class Tally:
    runs: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    sets: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    exits: Counter[int | None] = field(default_factory=Counter)
    distinct: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    resolved_with_coverage: Counter[str] = field(default_factory=Counter)
    """Rule -> findings `resolved` after an INVALID mutation although coverage names the file (a note)."""
    resolved_examples: dict[str, str] = field(default_factory=dict)
    """Rule -> the first run that showed it (how to reproduce)."""
    refingerprinted: int = 0


def one_run(benches: list[Workbench], seed: int, n: int, tally: Tally) -> str:
    """Run number `n` of `seed`; returns what it did, in one line."""
    rng = random.Random(f"{seed}:{n}")
    bench = rng.choice(benches)
    m = random_mutation(rng, bench.evidence)
    strict = rng.random() < 0.5
    other = rng.choice(FORMATS[1:]) if rng.random() < 0.25 else None
    tally.runs += 1
    tally.kinds[m.kind] += 1
    tally.sets[bench.evidence.name] += 1
    tally.distinct.add(f"{bench.evidence.name} {m!r}")
    for fmt in ("json", other) if other else ("json",):
        outcome = bench.run(m, fmt, strict=strict)
        tally.formats[fmt] += 1
        found = problems(bench, m, outcome, fmt)
        if found:
            replay = f"reproduce: scripts/fuzz.py --seed {seed} --replay {n}  (format {fmt}, strict {strict})"
            tally.failures.append(f"{counterexample(bench, m, outcome, found)}\n{replay}\n{m!r}")
        if fmt == "json":
            tally.exits[outcome.code] += 1
            tally.refingerprinted += refingerprinted(bench, outcome)
            for f in resolved_despite_coverage(bench, m, outcome):
                tally.resolved_with_coverage[str(f.get("rule_id"))] += 1
                example = f"--seed {seed} --replay {n}: {bench.evidence.name}, {m.describe()[:160]}"
                tally.resolved_examples.setdefault(str(f.get("rule_id")), example)
    return f"{bench.evidence.name}: {m.describe()} (json{f' and {other}' if other else ''}, strict {strict})"


def report(tally: Tally, seconds: float, seed: int) -> str:
    by_rule = ", ".join(f"{k} {v}" for k, v in tally.resolved_with_coverage.most_common())
    lines = [
        f"fuzz: seed {seed}, {seconds:.0f} s: {tally.runs} runs ({sum(tally.formats.values())} audits), "
        f"{len(tally.distinct)} distinct mutations, {len(tally.failures)} failure(s)",
        "  mutations per kind: " + ", ".join(f"{k} {tally.kinds[k]}" for k in KINDS),
        "  evidence sets: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.sets.items())),
        "  formats: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.formats.items())),
        "  exit codes (json): " + ", ".join(f"{k} {v}" for k, v in sorted(tally.exits.items(), key=str)),
        f"  noted, not failures: {tally.refingerprinted} finding(s) reported again under another fingerprint; "
        f"{sum(tally.resolved_with_coverage.values())} `resolved` after corrupted evidence although coverage "
        f"names the file{f' ({by_rule})' if by_rule else ''}",
    ]
    for rule, example in sorted(tally.resolved_examples.items()):
        lines.append(f"    {rule} resolved, e.g. {example}")
    for i, failure in enumerate(tally.failures, 1):
        lines += [f"--- failure {i}", failure]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to fuzz (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of every run's generator (default 0)")
    parser.add_argument("--replay", type=int, metavar="N", help="run number N of --seed only, saying what it does")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kubeiam-fuzz-") as tmp:
        work = Path(tmp)
        benches = [Workbench(ev, work / "runs" / ev.name) for ev in all_sets(work / "sets")]
        tally = Tally()
        started = time.monotonic()
        if args.replay is not None:
            print(f"fuzz: run {args.replay} of seed {args.seed}: {one_run(benches, args.seed, args.replay, tally)}")
        else:
            n = 0
            while time.monotonic() - started < args.seconds:
                one_run(benches, args.seed, n, tally)
                n += 1
                if n % 500 == 0:
                    print(f"fuzz: {n} runs, {len(tally.failures)} failure(s)", file=sys.stderr, flush=True)
        print(report(tally, time.monotonic() - started, args.seed))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
