"""The `kubeiam` command line: audit, check, collect, diff, rules."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn, Protocol

from kubeiam import __version__
from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.gcpause import gc_paused
from kubeiam.pipeline.providers import CollectRequest, Provider, declarations_of, load_providers
from kubeiam.pipeline.report import Report
from kubeiam.quarterly.config import Config, find_config
from kubeiam.render import Format, GroupBy, check_group_by, render_pieces
from kubeiam.render.coverage_text import coverage_lines, rule_lines
from kubeiam.safety.text import safe_line
from kubeiam.vocabulary.findings import Severity

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3

# NAMESPACE/NAME or CLUSTER/NAMESPACE/NAME (a cluster is named by its evidence folder: any name without `/`).
_SA_ARG = re.compile(
    r"^((?P<cluster>[^/\s]+)/)?(?P<ns>[a-z0-9]([-a-z0-9]*[a-z0-9])?)/(?P<name>[a-z0-9]([-.a-z0-9]*[a-z0-9])?)$"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage too)
        self.print_usage(sys.stderr)
        print(f"kubeiam: error: {safe_line(message)}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


class Command(Protocol):
    """A command beside the audit (`kubeiam tickets`), plugged in through the `kubeiam.commands` entry
    points: the core names no tracker and loads no tracker's client."""

    name: str

    def add_parser(self, subparsers: Any) -> argparse.ArgumentParser: ...

    def run(self, args: argparse.Namespace) -> int: ...


def load_commands() -> tuple[Command, ...]:
    return tuple(sorted((ep.load() for ep in entry_points(group="kubeiam.commands")), key=lambda c: c.name))


def build_parser(providers: Sequence[Provider], commands: Sequence[Command] = ()) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kubeiam",
        description="Audit what each Kubernetes workload can do in AWS, Google Cloud and Azure.",
    )
    parser.add_argument("--version", action="version", version=f"kubeiam {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    audit = sub.add_parser("audit", help="audit every ServiceAccount")
    audit.add_argument("--namespace", "-n", help="only this namespace")
    _add_source(audit, providers)
    _add_output(audit)
    _add_quarterly(audit)

    check = sub.add_parser("check", help="audit one ServiceAccount: NAMESPACE/NAME")
    check.add_argument("target", metavar="NAMESPACE/NAME")
    _add_source(check, providers)
    _add_output(check)
    _add_quarterly(check)

    collect = sub.add_parser("collect", help="write an evidence directory from the live cluster and clouds")
    collect.add_argument("--output", "-o", required=True, type=Path, metavar="DIR")
    collect.add_argument("--namespace", "-n", help="only this namespace")
    collect.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    _add_config(collect)
    _add_live(collect, providers)

    diff = sub.add_parser("diff", help="compare two JSON reports: new, unchanged and resolved findings")
    diff.add_argument("old", type=Path, metavar="OLD.json")
    diff.add_argument("new", type=Path, metavar="NEW.json")
    diff.add_argument("--format", "-f", choices=["text", "json"], default="text")
    diff.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the diff here instead of stdout")
    _add_fail_on(diff, "exit 1 on a new open finding at or above this severity")
    _add_config(diff)

    for command in commands:
        command.add_parser(sub)

    rules = sub.add_parser("rules", help="list the rules, or show one whole: kubeiam rules AWS-010")
    rules.add_argument("rule_id", nargs="?", metavar="RULE-ID", help="show this rule whole")
    rules.add_argument("--format", choices=["table", "json"], default="table")
    return parser


def _add_source(p: argparse.ArgumentParser, providers: Sequence[Provider]) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--evidence", "-e", type=Path, metavar="DIR", help="audit an evidence directory (offline)")
    src.add_argument("--demo", action="store_true", help="audit the bundled demo evidence")
    p.add_argument(
        "--keep-evidence",
        type=Path,
        metavar="DIR",
        help="live runs: where to write the evidence collected (default: ./kubeiam-evidence/<time>)",
    )
    _add_live(p, providers)


def _add_live(p: argparse.ArgumentParser, providers: Sequence[Provider]) -> None:
    p.add_argument(
        "--cloud",
        action="append",
        dest="clouds",
        choices=[c for p in providers for c in p.declarations.clouds],
        help="live runs: query only this cloud (repeatable; default: the config file's, else all)",
    )
    for provider in providers:
        provider.add_arguments(p.add_argument_group(f"live collection: {provider.name}"))


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", "-f", choices=[f.value for f in Format], help="table on a terminal, else json")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report here instead of stdout")
    _add_fail_on(p, "exit 1 when an open finding is at or above this severity")
    p.add_argument("--strict", action="store_true", help="exit 3 when anything could not be checked")
    p.add_argument("--quiet", "-q", action="store_true", help="no coverage notes or progress bars on stderr")
    p.add_argument(
        "--group-by",
        choices=[g.value for g in GroupBy],
        help="one record per ServiceAccount with its findings (json, jsonl, csv, markdown)",
    )


def _add_fail_on(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--fail-on", choices=[s.value for s in Severity], help=f"{what} (default: the config file's, else high)"
    )


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, metavar="FILE", help="config file (default: ./kubeiam.toml when present)")


def _add_quarterly(p: argparse.ArgumentParser) -> None:
    _add_config(p)
    p.add_argument("--suppressions", type=Path, metavar="FILE", help="accepted risks (YAML or TOML)")
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="PREVIOUS.json",
        help="mark findings new or unchanged against this report (default: the previous run in --report-dir)",
    )
    p.add_argument(
        "--report-dir",
        metavar="DIR|URL",
        help="write a dated run folder here: evidence, findings.json, report.html, summary.md "
        "(a folder, or an object-storage URL: docs/storage.md)",
    )
    p.add_argument(
        "--report-sse",
        metavar="KEY",
        help="with an object-storage --report-dir: the server-side encryption key (docs/storage.md); "
        "default: the bucket's own encryption",
    )


def main(argv: Sequence[str] | None = None) -> int:
    providers, commands = load_providers(), load_commands()
    parser = build_parser(providers, commands)
    args = parser.parse_args(argv)
    try:
        plugged = next((c for c in commands if c.name == args.command), None)
        if plugged is not None:
            return plugged.run(args)
        return _run(args, providers)
    except InputError as exc:
        print(f"kubeiam: error: {safe_line(str(exc))}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug, not bad input: still one line unless asked for more
        if args.debug:
            raise
        print(
            f"kubeiam: internal error: {type(exc).__name__}: {safe_line(str(exc))} (rerun with --debug)",
            file=sys.stderr,
        )
        return EXIT_INPUT


def _run(args: argparse.Namespace, providers: Sequence[Provider]) -> int:
    if args.command == "rules":
        return _rules(args, providers)
    declared = declarations_of(providers)
    config = find_config(args.config).checked(clouds=declared.clouds, settings=declared.settings)
    if args.command == "diff":
        return _diff(args, config, providers)
    if args.command == "collect":
        from kubeiam.pipeline.collection import collect

        request = _collect_request(args, config, args.output, namespace=args.namespace)
        for e in collect(request, providers)[2]:
            print(f"kubeiam: could not read {safe_line(e.location)}: {safe_line(e.reason)}", file=sys.stderr)
        print(f"evidence written to {args.output}", file=sys.stderr)
        return EXIT_OK
    if args.format and args.group_by:
        check_group_by(Format(args.format), GroupBy(args.group_by))
    namespace, name = None, None
    cluster = getattr(args, "cluster_name", None)  # the Kubernetes provider's option: narrows to that cluster
    if args.command == "check":
        m = _SA_ARG.match(args.target)
        if not m:
            raise InputError(
                f"check: '{args.target}' is not NAMESPACE/NAME or CLUSTER/NAMESPACE/NAME (for example: payments/api)"
            )
        if m["cluster"] and cluster and m["cluster"] != cluster:
            raise InputError(f"check: '{args.target}' names cluster {m['cluster']}, --cluster-name says {cluster}")
        namespace, name, cluster = m["ns"], m["name"], m["cluster"] or cluster
    else:
        namespace = args.namespace
    return _audit(args, providers, config, (cluster, namespace, name))


def _audit(
    args: argparse.Namespace, providers: Sequence[Provider], config: Config, subject: tuple[str | None, ...]
) -> int:
    """Evidence (demo, offline, or collected live) -> report -> stdout / --output, and the run folder."""
    from kubeiam.pipeline.audit import audit
    from kubeiam.pipeline.providers import all_rules
    from kubeiam.quarterly import report_dir
    from kubeiam.quarterly.baseline import load_previous, previous_from_dict, read_report, scope_of
    from kubeiam.quarterly.stages import Stages
    from kubeiam.quarterly.stores import StoreOptions, baseline_from, store_for
    from kubeiam.quarterly.suppressions import load_suppressions

    cluster, namespace, name = subject
    now = datetime.now(UTC)
    target = args.report_dir or config.report_dir
    store = store_for(target, StoreOptions(encryption_key=args.report_sse)) if target else None
    suppressions_file = args.suppressions or config.suppressions
    scope = scope_of(namespace, name, cluster)
    rules = all_rules(providers)
    with tempfile.TemporaryDirectory(prefix="kubeiam-baseline-") as tmp:
        found = None if args.baseline or store is None else baseline_from(store, scope, Path(tmp))
        if args.baseline:
            baseline = load_previous(args.baseline)
        elif found is not None:
            baseline = previous_from_dict(read_report(found[0], "baseline"), found[1])
        else:
            baseline = None
    stages = Stages(
        now=now,
        owner_labels=config.owner_labels,
        suppressions=load_suppressions(suppressions_file) if suppressions_file else (),
        baseline=baseline,
        analysis=config.analysis(rules),
        rule_clouds={r.id: r.cloud for r in rules},
    )
    published = None
    with store.staging(now) if store is not None else contextlib.nullcontext() as run:
        source = _source(args, providers, config, run, now, namespace, name)
        with gc_paused():
            report = audit(
                source,
                providers=providers,
                stages=stages,
                cluster=cluster,
                namespace=namespace,
                service_account=name,
                mode=args.command,
            )
            # The report lives until the process ends: spare the collector rescanning it while rendering
            # (about a second off a 100,000-finding report). Frozen before the collector is back on, or its
            # first run would scan the whole heap once more.
            gc.freeze()
        if run is not None and store is not None:
            root = source.output if isinstance(source, CollectRequest) else source.root
            report_dir.write_run(run, report, root, store.trend(scope))  # the run is not published yet
            published = f"{store.url}/{store.publish(run, now)}"
    # Said before the findings, even with --quiet: a source that could not be read at all is no pass.
    _warn_unreadable(report)
    _emit(report, args)
    if not args.quiet:
        if published is not None:
            print(f"kubeiam: report written to {safe_line(published)}", file=sys.stderr)
        _warn_coverage(report)
    if report.fails(_fail_on(args, config)):
        return EXIT_FINDINGS
    if report.coverage.get("unreadable") or (args.strict and report.incomplete):
        return EXIT_INCOMPLETE
    return EXIT_OK


def _source(
    args: argparse.Namespace,
    providers: Sequence[Provider],
    config: Config,
    run: Path | None,
    now: datetime,
    namespace: str | None,
    name: str | None,
) -> Evidence | CollectRequest:
    """What to audit: the demo, --evidence, or a live collection (into the run folder, else --keep-evidence)."""
    from kubeiam.pipeline.audit import demo_dir

    if args.demo:
        root = demo_dir()
        if not root.is_dir():
            raise InputError(f"demo evidence not found at {root} (install kubeiam from a source checkout)")
        return Evidence(root)
    if args.evidence:
        if not args.evidence.is_dir():
            raise InputError(f"--evidence {args.evidence}: not a directory")
        return Evidence(args.evidence)
    default = run / "evidence" if run else Path("kubeiam-evidence") / now.strftime("%Y%m%dT%H%M%SZ")
    return _collect_request(args, config, args.keep_evidence or default, namespace=namespace, name=name)


def _fail_on(args: argparse.Namespace, config: Config) -> Severity:
    return Severity(args.fail_on) if args.fail_on else (config.fail_on or Severity.HIGH)


def _collect_request(
    args: argparse.Namespace,
    config: Config,
    output: Path,
    *,
    namespace: str | None = None,
    name: str | None = None,
) -> CollectRequest:
    """What a live collection into `output` fetches, with the chosen clouds; progress bars on a terminal."""
    if getattr(args, "contexts", None) is None and config.contexts:
        args.contexts = list(config.contexts)  # the kubernetes provider's --context
    return CollectRequest(
        options=args,
        output=output,
        namespace=namespace,
        service_account=(namespace, name) if namespace and name else None,
        progress=_progress(args.quiet),
        clouds=tuple(args.clouds or config.clouds),
    )


def _progress(quiet: bool) -> object:
    from kubeiam.render.terminal_progress import progress_for

    return progress_for(quiet)


def _emit(report: Report, args: argparse.Namespace) -> None:
    to_terminal = args.output is None and sys.stdout.isatty()
    fmt = Format(args.format) if args.format else (Format.TABLE if to_terminal else Format.JSON)
    colour = to_terminal and "NO_COLOR" not in os.environ
    group_by = GroupBy(args.group_by) if args.group_by else None
    _write_output(args.output, render_pieces(report, fmt, colour=colour, group_by=group_by))


def _diff(args: argparse.Namespace, config: Config, providers: Sequence[Provider]) -> int:
    from kubeiam.pipeline.providers import all_rules
    from kubeiam.quarterly.baseline import diff_reports, load_previous, read_report, render_diff_text

    rule_clouds = {r.id: r.cloud for r in all_rules(providers)}
    diff = diff_reports(load_previous(args.old), read_report(args.new), str(args.new), rule_clouds)
    text = json.dumps(diff.to_dict(), indent=2) + "\n" if args.format == "json" else render_diff_text(diff)
    _write_output(args.output, text)
    return EXIT_FINDINGS if diff.fails(_fail_on(args, config)) else EXIT_OK


def _write_output(path: Path | None, text: str | Iterable[str]) -> None:
    """stdout, or --output FILE written atomically; `text` may come in pieces."""
    from kubeiam.quarterly.report_dir import write_atomic

    if path is None:
        sys.stdout.writelines([text] if isinstance(text, str) else text)
        return
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise InputError(f"--output {path}: cannot write: {exc.strerror or exc}") from None


def _warn_unreadable(report: Report) -> None:
    for u in report.coverage.get("unreadable") or []:
        what = f"{u['source']} ({u['subject']})" if u.get("subject") else str(u["source"])
        print(
            f"kubeiam: {safe_line(what)} could not be read at all: {safe_line(str(u['reason']))}; "
            "nothing of it was checked, so the run cannot pass",
            file=sys.stderr,
        )


def _warn_coverage(report: Report) -> None:
    expired = report.extra.get("expired_suppressions") or []
    if expired:
        print(
            f"kubeiam: {len(expired)} suppression(s) expired and no longer mute anything "
            "(see expired_suppressions in the JSON report)",
            file=sys.stderr,
        )
    cov = report.coverage
    for line in rule_lines(cov):
        print(f"kubeiam: {line}", file=sys.stderr)
    errors, unchecked = cov.get("errors", []), cov.get("unchecked", [])
    if errors or unchecked:
        print(
            f"kubeiam: coverage incomplete: {len(errors)} error(s), {len(unchecked)} identity link(s) "
            "not fully checked (all in coverage in the JSON report):",
            file=sys.stderr,
        )
        for line in coverage_lines(cov):
            print(f"  {line}", file=sys.stderr)


def _rules(args: argparse.Namespace, providers: Sequence[Provider]) -> int:
    from kubeiam.pipeline.providers import all_rules
    from kubeiam.render.rule_text import rule_text

    rules = all_rules(providers)
    if args.rule_id:
        by_id = {r.id.upper(): r for r in rules}
        chosen = by_id.get(args.rule_id.upper())
        if chosen is None:
            raise InputError(f"rules: no rule {args.rule_id} (`kubeiam rules` lists them)")
        out = json.dumps(chosen.metadata(), indent=2) + "\n" if args.format == "json" else rule_text(chosen.metadata())
        sys.stdout.write(out)
        return EXIT_OK
    if args.format == "json":
        print(json.dumps([r.metadata() for r in rules], indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "cloud", "category", "severity", "title", box=None, header_style="bold")
    for r in rules:
        table.add_row(r.id, r.cloud, r.category.value, r.severity.value, r.title)
    Console(width=160).print(table)
    print("\n`kubeiam rules RULE-ID` shows one rule whole: rationale, remediation, references.")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
