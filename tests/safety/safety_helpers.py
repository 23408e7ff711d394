"""The planted-secrets corpus (fixtures/secrets), and running the CLI with every byte it writes collected."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kubernetes"))
from kubernetes_alone import kubernetes_alone

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "fixtures" / "secrets"
EVIDENCE = CORPUS / "evidence"
DEMO = REPO / "fixtures" / "demo"


def planted() -> list[dict[str, str]]:
    """Every value planted in the corpus, with its kind and where it sits (fixtures/secrets/planted.json)."""
    return list(json.loads((CORPUS / "planted.json").read_text())["values"])


MARKER = "kubeiamfake"
"""In every planted value (or in what it decodes to), in no name and no key: searched case-insensitively."""


def leaks(data: bytes | str) -> list[str]:
    """Planted values (as written, or base64-encoded) and the marker found in `data`."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    found = []
    for p in planted():
        value = p["value"]
        for form in (value, base64.b64encode(value.encode()).decode()):
            if form in text:
                found.append(f"{p['kind']} ({p['where']}): {form[:40]}")
    if MARKER in text.lower():
        at = text.lower().index(MARKER)
        found.append(f"marker: ...{text[max(0, at - 80) : at + 40]!r}")
    return found


@dataclass(frozen=True)
class Written:
    """What one command wrote: its exit code, stdout, stderr and every file under the watched folders."""

    command: Sequence[str]
    code: int
    out: str
    err: str
    files: dict[Path, bytes]

    def every_byte(self) -> Iterator[tuple[str, bytes]]:
        yield "stdout", self.out.encode()
        yield "stderr", self.err.encode()
        for path, data in sorted(self.files.items()):
            yield str(path), data


def files_under(*roots: Path) -> dict[Path, bytes]:
    found: dict[Path, bytes] = {}
    for root in roots:
        if root.is_file():
            found[root] = root.read_bytes()
        elif root.is_dir():
            found.update({p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()})
    return found


Run = Callable[..., Written]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """`run(*argv, watch=[paths], kubernetes_only=False)`: the CLI in-process, from an empty working directory."""
    from kubeiam import cli

    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # no kubeiam.toml picked up from the checkout
    monkeypatch.setenv("HOME", str(work))
    for var in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(var, raising=False)

    def call(*argv: str | Path, watch: Sequence[Path] = (), kubernetes_only: bool = False) -> Written:
        with monkeypatch.context() as m:
            if kubernetes_only:
                providers = kubernetes_alone()
                m.setattr(cli, "load_providers", lambda: providers)
            capsys.readouterr()
            code = cli.main([str(a) for a in argv])
            out, err = capsys.readouterr()
        return Written(tuple(str(a) for a in argv), code, out, err, files_under(*watch))

    return call
