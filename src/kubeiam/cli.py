"""The `kubeiam` command line: audit, check, collect, rules."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from kubeiam import __version__
from kubeiam.errors import InputError
from kubeiam.evidence import Evidence
from kubeiam.findings import Severity
from kubeiam.providers import CollectRequest, Provider, load_providers
from kubeiam.render import Format, render
from kubeiam.report import Report

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3

_SA_ARG = re.compile(r"^(?P<ns>[a-z0-9]([-a-z0-9]*[a-z0-9])?)/(?P<name>[a-z0-9]([-.a-z0-9]*[a-z0-9])?)$")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        self.print_usage(sys.stderr)
        print(f"kubeiam: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


def build_parser(providers: Sequence[Provider]) -> argparse.ArgumentParser:
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

    check = sub.add_parser("check", help="audit one ServiceAccount: NAMESPACE/NAME")
    check.add_argument("target", metavar="NAMESPACE/NAME")
    _add_source(check, providers)
    _add_output(check)

    collect = sub.add_parser("collect", help="write an evidence directory from the live cluster and clouds")
    collect.add_argument("--output", "-o", required=True, type=Path, metavar="DIR")
    collect.add_argument("--namespace", "-n", help="only this namespace")
    _add_live(collect, providers)

    rules = sub.add_parser("rules", help="list the rules")
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
    for provider in providers:
        provider.add_arguments(p.add_argument_group(f"live collection: {provider.name}"))


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", "-f", choices=[f.value for f in Format], help="table on a terminal, else json")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report here instead of stdout")
    p.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        default="high",
        help="exit 1 when an open finding is at or above this severity (default: high)",
    )
    p.add_argument("--strict", action="store_true", help="exit 3 when anything could not be checked")
    p.add_argument("--quiet", "-q", action="store_true", help="no coverage notes on stderr")


def main(argv: Sequence[str] | None = None) -> int:
    providers = load_providers()
    parser = build_parser(providers)
    args = parser.parse_args(argv)
    try:
        return _run(args, providers)
    except InputError as exc:
        print(f"kubeiam: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug, not bad input: still one line unless asked for more
        if args.debug:
            raise
        print(f"kubeiam: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr)
        return EXIT_INPUT


def _run(args: argparse.Namespace, providers: Sequence[Provider]) -> int:
    if args.command == "rules":
        return _rules(args, providers)
    if args.command == "collect":
        _, errors = _collect(args, providers, args.output, namespace=args.namespace)
        _warn_errors(errors, quiet=False)
        print(f"evidence written to {args.output}", file=sys.stderr)
        return EXIT_OK
    namespace, name = None, None
    if args.command == "check":
        m = _SA_ARG.match(args.target)
        if not m:
            raise InputError(f"check: '{args.target}' is not NAMESPACE/NAME (for example: payments/api)")
        namespace, name = m["ns"], m["name"]
    else:
        namespace = args.namespace
    return _audit(args, providers, namespace, name)


def _audit(args: argparse.Namespace, providers: Sequence[Provider], namespace: str | None, name: str | None) -> int:
    from kubeiam.pipeline import audit, demo_dir

    collection_errors = []
    if args.demo:
        root = demo_dir()
        if not root.is_dir():
            raise InputError(f"demo evidence not found at {root} (install kubeiam from a source checkout)")
    elif args.evidence:
        root = args.evidence
        if not root.is_dir():
            raise InputError(f"--evidence {root}: not a directory")
    else:
        root = args.keep_evidence or Path("kubeiam-evidence") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        _, collection_errors = _collect(args, providers, root, namespace=namespace, name=name)
    report = audit(
        Evidence(root),
        namespace=namespace,
        service_account=name,
        mode=args.command,
        providers=providers,
        collection_errors=collection_errors,
    )
    _emit(report, args)
    if not args.quiet:
        _warn_coverage(report)
    if report.fails(Severity(args.fail_on)):
        return EXIT_FINDINGS
    if args.strict and report.incomplete:
        return EXIT_INCOMPLETE
    return EXIT_OK


def _collect(args, providers, output: Path, *, namespace=None, name=None):
    from kubeiam.pipeline import collect

    request = CollectRequest(
        options=args,
        output=output,
        namespace=namespace,
        service_account=(namespace, name) if name else None,
    )
    return collect(request, providers)


def _emit(report: Report, args: argparse.Namespace) -> None:
    to_terminal = args.output is None and sys.stdout.isatty()
    fmt = Format(args.format) if args.format else (Format.TABLE if to_terminal else Format.JSON)
    colour = to_terminal and "NO_COLOR" not in os.environ
    text = render(report, fmt, colour=colour)
    if args.output:
        _write_atomic(args.output, text)
    else:
        sys.stdout.write(text)


def _write_atomic(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as fh:
            fh.write(text)
        Path(fh.name).replace(path)
    except OSError as exc:
        raise InputError(f"--output {path}: cannot write: {exc.strerror or exc}") from None


def _warn_coverage(report: Report) -> None:
    cov = report.coverage
    errors, unchecked = cov.get("errors", []), cov.get("unchecked", [])
    if errors or unchecked:
        print(
            f"kubeiam: coverage incomplete: {len(errors)} error(s), {len(unchecked)} identity link(s) "
            "not checked (see coverage in the JSON report)",
            file=sys.stderr,
        )


def _warn_errors(errors, quiet: bool) -> None:
    if errors and not quiet:
        for e in errors:
            print(f"kubeiam: could not read {e.location}: {e.reason}", file=sys.stderr)


def _rules(args: argparse.Namespace, providers: Sequence[Provider]) -> int:
    from kubeiam.rules import all_rules

    rules = all_rules(providers)
    if args.format == "json":
        print(json.dumps([r.metadata() for r in rules], indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "cloud", "category", "severity", "title", box=None, header_style="bold")
    for r in rules:
        table.add_row(r.id, r.cloud, r.category.value, r.severity.value, r.title)
    Console(width=160).print(table)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
