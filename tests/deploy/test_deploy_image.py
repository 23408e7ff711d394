"""The Dockerfile built by buildah and run the way the chart runs it: user 65532, a read-only root
filesystem, tmpfs at /tmp and at the report folder, the image's own entry point.

The official base image cannot be pulled here (the machine reaches PyPI, Debian and npm only), so
the test gives the build a stand-in base (`BASE_IMAGE`) made from Debian's packages: bookworm with
its python3 (3.11), the base's distribution and Python minor version. Everything else is the
Dockerfile as shipped, and its RUN steps install deploy/requirements.lock from PyPI with hashes.
Needs root, buildah and debootstrap (scripts/test.sh installs the last two when root, as CI is).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STATE = Path("/var/tmp/kubeiam-test-buildah")
# The stand-in base: what debootstrap installs, plus the machine's CA bundle for pip behind a
# TLS-inspecting proxy (PIP_CERT, as pip ignores the system store).
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
BASE_RECIPE = f"bookworm minbase {BASE_PACKAGES} PIP_CERT"
BASE_TAG = "localhost/kubeiam-test-base:" + hashlib.sha256(BASE_RECIPE.encode()).hexdigest()[:12]
IMAGE_TAG = "localhost/kubeiam-test:smoke"
UID = "65532"

pytestmark = [
    pytest.mark.skipif(
        os.name != "posix" or os.geteuid() != 0, reason="building an image needs root (CI runs as root)"
    ),
    pytest.mark.skipif(
        not (shutil.which("buildah") and shutil.which("debootstrap")),
        reason="buildah and debootstrap are not installed (scripts/test.sh installs them with apt-get when root)",
    ),
]


def buildah(*args: str, timeout: int = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["buildah", "--root", str(STATE / "storage"), "--runroot", str(STATE / "run"), "--storage-driver", "vfs"]
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        pytest.fail(f"buildah {' '.join(args[:2])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def image_config(image: str) -> dict:
    return json.loads(buildah("inspect", "--type", "image", image).stdout)["OCIv1"]["config"]


def _stand_in_base() -> None:
    if buildah("images", "-q", BASE_TAG, check=False).stdout.strip():
        return  # built by an earlier run on this machine
    with tempfile.TemporaryDirectory(dir="/var/tmp") as rootfs:
        done = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={BASE_PACKAGES}",
                "bookworm",
                rootfs,
                "http://deb.debian.org/debian",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if bundle.is_file():
            shutil.copyfile(bundle, Path(rootfs) / "etc/ssl/certs/ca-certificates.crt")
        container = buildah("from", "scratch").stdout.strip()
        try:
            buildah("copy", "--quiet", container, rootfs, "/", timeout=600)
            buildah("config", "--env", "PIP_CERT=/etc/ssl/certs/ca-certificates.crt", container)
            buildah("commit", "--quiet", container, BASE_TAG, timeout=600)
        finally:
            buildah("rm", container, check=False)


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    import fcntl  # POSIX only, like the whole module (skipped elsewhere)

    STATE.mkdir(parents=True, exist_ok=True)
    # Another pytest run on this machine uses the same storage and tags: one at a time.
    with open(STATE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield from _built()


def _built() -> Iterator[str]:
    _stand_in_base()
    buildah(
        "bud",
        "--isolation",
        "chroot",
        "--layers=false",
        "--build-arg",
        f"BASE_IMAGE={BASE_TAG}",
        "--file",
        str(REPO / "Dockerfile"),
        "--tag",
        IMAGE_TAG,
        str(REPO),
        timeout=1500,
    )
    yield IMAGE_TAG
    buildah("rmi", "--force", IMAGE_TAG, check=False)


def _run_read_only(image: str, argv: list[str], demo: bool = False) -> subprocess.CompletedProcess[str]:
    """Run argv in the image as Kubernetes would with the chart's securityContext: read-only root,
    user 65532, emptyDir-like tmpfs at /tmp and /reports, nothing of the host's environment."""
    container = buildah("from", "--quiet", image).stdout.strip()
    try:
        rootfs = buildah("mount", container).stdout.strip()
        Path(rootfs, "reports").mkdir(exist_ok=True)  # the chart's mount point, made by the runtime
        script = f"""
set -e
root=$(mktemp -d)
mount --bind "{rootfs}" "$root"
mount -o remount,bind,ro "$root"
mount -t tmpfs -o size=256m,mode=1777 tmpfs "$root/tmp"
mount -t tmpfs -o size=256m,mode=0770,uid={UID},gid={UID} tmpfs "$root/reports"
mount --bind /dev "$root/dev"
mount -t proc proc "$root/proc"
{f'cp -r "{REPO}/fixtures/demo" "$root/tmp/demo" && chown -R {UID}:{UID} "$root/tmp/demo"' if demo else ""}
exec chroot --userspec={UID}:{UID} "$root" /usr/bin/env -i PATH=/usr/bin:/bin "$@"
"""
        env = image_config(image)["Env"]
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "run", *env, *argv],
            capture_output=True,
            text=True,
            timeout=300,
            cwd="/",
        )
    finally:
        buildah("umount", container, check=False)
        buildah("rm", container, check=False)


def test_the_image_builds_and_runs_as_the_chart_runs_it(image):
    # One test, so one build per suite run (the checks would otherwise spread over xdist workers).
    config = image_config(image)
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["/opt/kubeiam/bin/kubeiam"]
    assert config["WorkingDir"] == "/tmp" and "HOME=/tmp" in config["Env"]

    # The chart's arguments, offline against the demo evidence; then a probe that the root is read-only.
    args = ["audit", "--evidence", "/tmp/demo", "--report-dir", "/reports", "--format", "table", "--fail-on", "high"]
    probe = "touch /opt/kubeiam/probe 2>/dev/null && echo root-is-writable || true"
    script = f'cd /tmp && "$@"; echo "exit=$?"; ls /reports/*/; {probe}'
    done = _run_read_only(image, ["sh", "-c", script, "sh", *config["Entrypoint"], *args], demo=True)
    assert done.returncode == 0, done.stderr
    # 1: the demo has high findings; the run folder is complete; nothing tried to write elsewhere.
    assert "exit=1" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert {"evidence", "findings.json", "report.html", "summary.md"} <= set(done.stdout.split()), done.stdout[-2000:]
    assert "open finding(s)" in done.stdout
    assert "root-is-writable" not in done.stdout
    assert "Read-only file system" not in done.stderr and "Traceback" not in done.stderr

    # Live, outside a cluster: the cloud SDKs import, and the missing in-cluster account is one line.
    live = ["sh", "-c", 'cd /tmp && "$@"', "sh", *config["Entrypoint"], "audit", "--report-dir", "/reports"]
    done = _run_read_only(image, live)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not running inside a cluster" in done.stderr and "Traceback" not in done.stderr
