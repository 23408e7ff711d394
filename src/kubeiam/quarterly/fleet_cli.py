"""`kubeiam fleet SOURCE...`: the command line of the fleet report (docs/fleet.md).

Exit status: 0 written; 1 an open finding at or above `--fail-on`; 2 bad usage, or no source could be
read at all; 3 a source, run or findings file could not be read (and, with `--strict`, a cluster is stale
or incomplete). The report is written either way: what could not be read is listed in it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from kubeiam.errors import InputError
from kubeiam.safety.text import safe_line
from kubeiam.vocabulary.findings import Severity

if TYPE_CHECKING:  # the fleet's modules (and ijson) load when the command runs, not with every kubeiam command
    from kubeiam.quarterly.fleet import Fleet, FleetSettings
    from kubeiam.quarterly.stores import ReportStore

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3
FORMATS = ("json", "markdown", "html")
SEVERITIES = tuple(s.value for s in Severity)
DEFAULT_STALE_AFTER = timedelta(days=100)  # a quarterly schedule, plus ten days' grace (fleet.py's default)
_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[dh]?)$")


def add_fleet_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `fleet` to the main parser's subcommands (`parser.add_subparsers(...)`)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "fleet",
        help="one report over the latest run of every cluster in report folders or buckets",
        description="Read the latest published run of every cluster in each SOURCE (a report folder, a folder "
        "of report folders, or an object-storage URL: s3://, gs://, https://ACCOUNT.blob.core.windows.net/...) "
        "and write one report: every finding with its cluster, roll-ups per cluster, account, namespace and "
        "owner, identities shared by several clusters, the trend per cluster, and stale clusters.",
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="report folder or bucket URL (repeatable)")
    p.add_argument("--format", "-f", choices=FORMATS, help="markdown on a terminal, else json")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report here instead of stdout")
    p.add_argument(
        "--output-dir", type=Path, metavar="DIR", help="write fleet.json, fleet.html and summary.md into DIR"
    )
    p.add_argument(
        "--stale-after",
        type=_duration,
        default=DEFAULT_STALE_AFTER,
        metavar="DAYS",
        help="a cluster whose last run is older is stale, never clean: days, or 36h (default: 100, a quarter)",
    )
    p.add_argument("--top", type=int, default=500, metavar="N", help="worst findings the html/markdown list (500)")
    p.add_argument("--fail-on", choices=SEVERITIES, help="exit 1 when an open finding is at or above this severity")
    p.add_argument("--strict", action="store_true", help="exit 3 when a cluster is stale or incomplete")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary line on stderr")
    return p


def _duration(text: str) -> timedelta:
    m = _DURATION.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of days (100) or hours (36h)")
    n = float(m["n"])
    return timedelta(hours=n) if m["unit"] == "h" else timedelta(days=n)


def run_fleet(
    args: argparse.Namespace,
    *,
    stores: list[ReportStore] | None = None,
    accounts: Any = None,
    now: datetime | None = None,
    out: IO[bytes] | None = None,
) -> int:
    """Run `kubeiam fleet`. `stores`, `accounts`, `now`, `out`: injected by tests (else built from the
    arguments, the installed providers' declarations, the clock and stdout)."""
    from kubeiam.quarterly.fleet import FleetSettings, build_fleet
    from kubeiam.quarterly.stores import StoreOptions, store_for

    if args.top < 0:
        raise InputError("fleet: --top must be 0 or more")
    stores = stores if stores is not None else [store_for(s, StoreOptions()) for s in args.sources]
    settings = FleetSettings(
        now=now or datetime.now(UTC),
        stale_after=args.stale_after,
        accounts=_declared_accounts() if accounts is None else accounts,
        top=args.top,
    )
    fmt = args.format or ("markdown" if sys.stdout.isatty() and not args.output else "json")
    if args.output_dir is not None:
        fleet = _write_dir(stores, settings, args.output_dir)
    elif fmt == "json":
        with _target(args.output, out) as fh:
            fleet = _stream_json(stores, settings, fh)
    else:
        fleet = build_fleet(stores, settings)
        text = _render(fleet, fmt).encode("utf-8")
        with _target(args.output, out) as fh:
            fh.write(text)
    return _verdict(fleet, args)


def _declared_accounts() -> tuple[Any, ...]:
    """The account patterns the installed providers declare (`Declarations.accounts`, when it exists)."""
    from kubeiam.pipeline.providers import declarations_of, load_providers

    return tuple(getattr(declarations_of(load_providers()), "accounts", ()))


def _stream_json(stores: list[ReportStore], settings: FleetSettings, fh: IO[bytes]) -> Fleet:
    from kubeiam.quarterly.fleet import Fleet, build_fleet
    from kubeiam.render.fleet_json import FleetJsonWriter

    writer = FleetJsonWriter(fh)
    writer.start(Fleet.head_for(settings))
    fleet = build_fleet(stores, settings, writer.row)
    writer.finish(fleet)
    return fleet


def _render(fleet: Fleet, fmt: str) -> str:
    if fmt == "html":
        from kubeiam.render.fleet_html import render_fleet_html

        return render_fleet_html(fleet)
    from kubeiam.render.fleet_markdown import render_fleet_markdown

    return render_fleet_markdown(fleet)


def _write_dir(stores: list[ReportStore], settings: FleetSettings, folder: Path) -> Fleet:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--output-dir {folder}: cannot create: {exc.strerror or exc}") from None
    with _target(folder / "fleet.json", None) as fh:
        fleet = _stream_json(stores, settings, fh)
    for name, fmt in (("fleet.html", "html"), ("summary.md", "markdown")):
        with _target(folder / name, None) as fh:
            fh.write(_render(fleet, fmt).encode("utf-8"))
    return fleet


@contextmanager
def _target(path: Path | None, out: IO[bytes] | None) -> Iterator[IO[bytes]]:
    """A file written through a temporary one beside it (no half report left behind), or stdout."""
    if path is None:
        yield out or sys.stdout.buffer
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would have made it (mkstemp makes it private)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _verdict(fleet: Fleet, args: argparse.Namespace) -> int:
    s = fleet.summary
    if not args.quiet:
        print(
            f"kubeiam: fleet of {s['clusters']} cluster(s): {s['clean']} clean, {s['findings']} with findings, "
            f"{s['incomplete']} incomplete, {s['stale']} stale; {s['open']} open finding(s)",
            file=sys.stderr,
        )
        for p in fleet.problems:
            print(f"kubeiam: could not read {safe_line(p['where'])}: {safe_line(p['reason'])}", file=sys.stderr)
    if fleet.sources and all(src["runs"] == 0 for src in fleet.sources) and fleet.problems:
        return EXIT_INPUT  # nothing at all could be read: no report to speak of
    if args.fail_on and any(s["by_severity"][sev] for sev in SEVERITIES[: SEVERITIES.index(args.fail_on) + 1]):
        return EXIT_FINDINGS
    broken = fleet.problems or any(c["problems"] for c in fleet.clusters)
    if broken or (args.strict and (s["stale"] or s["incomplete"])):
        return EXIT_INCOMPLETE
    return EXIT_OK


class FleetCommand:
    """`kubeiam fleet` as a `kubeiam.commands` plug-in (cli.Command), for wiring by one entry point."""

    name = "fleet"

    def add_parser(self, subparsers: Any) -> argparse.ArgumentParser:
        return add_fleet_parser(subparsers)

    def run(self, args: argparse.Namespace) -> int:
        return run_fleet(args)


COMMAND = FleetCommand()
