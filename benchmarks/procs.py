"""Run a command and measure its wall time and its own peak RSS.

Why a launcher: Linux carries the high-water RSS of the process that execs into the new program
(`exec` keeps `maxrss`), and Python starts children with vfork from the parent's memory; a
benchmark parent holding a 20,000-ServiceAccount estate would make every child look as big. The
launcher is a small Python process that forks the real command from its own small memory, waits
for it and reports the child's rusage.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_LAUNCHER = """
import json, os, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
proc = subprocess.Popen(cmd)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
with open(out, "w") as f:
    cpu = usage.ru_utime + usage.ru_stime
    json.dump({"wall": wall, "cpu": cpu, "rss": usage.ru_maxrss / 1024, "code": os.waitstatus_to_exitcode(status)}, f)
"""


def run(cmd: list[str], stdout: Any = subprocess.DEVNULL, env: dict[str, str] | None = None) -> dict[str, Any]:
    """{"wall": seconds, "cpu": user + system seconds, "rss": peak MiB of the command, "code": exit code,
    "stderr": tail}. CPU time is what the command itself spent: on a shared machine it varies less than wall."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(result), *cmd],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
        out = json.loads(result.read_text()) if result.is_file() else {"wall": 0.0, "cpu": 0.0, "rss": 0.0, "code": -1}
    out["stderr"] = done.stderr.decode(errors="replace")[-3000:]
    out["stdout"] = done.stdout.decode(errors="replace") if isinstance(done.stdout, bytes) else ""
    return out


def best_of(cmd: list[str], repeat: int, stdout: Any = subprocess.DEVNULL) -> dict[str, Any]:
    """Best wall and CPU time of `repeat` runs (the machine may be shared), the largest peak RSS."""
    runs = []
    for _ in range(repeat):
        r = run(cmd, stdout)
        if r["code"] not in (0, 1):
            sys.stderr.write(f"{cmd[0]} exited {r['code']}: {r['stderr']}\n")
        runs.append(r)
    return {
        "wall": min(r["wall"] for r in runs),
        "cpu": min(r["cpu"] for r in runs),
        "rss": max(r["rss"] for r in runs),
        "runs": [round(r["wall"], 2) for r in runs],
        "code": runs[-1]["code"],
    }
