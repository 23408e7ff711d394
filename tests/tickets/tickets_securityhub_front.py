"""A front server for moto's Security Hub: what moto lacks, stubbed honestly, the rest passed through.

moto (5.2) implements BatchImportFindings and GetFindings but not BatchUpdateFindings, and ignores
GetFindings' Filters. This front:
- forwards every request to moto unchanged (so boto3's real wire format is what moto parses);
- serves `PATCH /findings/batchupdate` (BatchUpdateFindings) itself, keeping each finding's Workflow
  and Note, and lays them over moto's GetFindings answers;
- applies the documented rule that Security Hub resets Workflow RESOLVED or NOTIFIED to NEW when a
  finding's RecordState goes from ARCHIVED back to ACTIVE;
- can answer a request with an injected error (a 429 TooManyRequestsException, a 500) to test retries
  and runs stopped half-way;
- counts requests by operation for assertions.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

OPERATIONS = {
    ("POST", "/findings/import"): "BatchImportFindings",
    ("POST", "/findings"): "GetFindings",
    ("PATCH", "/findings/batchupdate"): "BatchUpdateFindings",
}


class SecurityHubFront:
    def __init__(self, moto_port: int) -> None:
        self.moto_port = moto_port
        self.workflow: dict[str, str] = {}
        self.notes: dict[str, dict[str, str]] = {}
        self.record_state: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.faults: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> SecurityHubFront:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self) -> None:
        with self.lock:
            self.workflow.clear()
            self.notes.clear()
            self.record_state.clear()
            self.calls.clear()
            self.faults.clear()

    def fault(self, operation: str, status: int, code: str, *, times: int = 1, after: int = 0) -> None:
        self.faults.append(
            {"operation": operation, "status": status, "code": code, "times": times, "after": after, "seen": 0}
        )


def _handler(front: SecurityHubFront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_GET(self) -> None:
            self._serve("GET")

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _serve(self, method: str) -> None:
            path = urlsplit(self.path).path
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = OPERATIONS.get((method, path), f"{method} {path}")
            with front.lock:
                front.calls[operation] += 1
                for f in front.faults:
                    if f["operation"] == operation and f["times"] > 0:
                        f["seen"] += 1
                        if f["seen"] > f["after"]:
                            f["times"] -= 1
                            body = json.dumps({"__type": f["code"], "message": f"injected {f['code']}"}).encode()
                            return self._send(
                                f["status"], body, {"Content-Type": "application/json", "x-amzn-ErrorType": f["code"]}
                            )
                if operation == "BatchUpdateFindings":
                    return self._send(
                        200,
                        json.dumps(self._batch_update(json.loads(raw))).encode(),
                        {"Content-Type": "application/json"},
                    )
                if operation == "BatchImportFindings":
                    self._track_imports(json.loads(raw))
            status, headers, body = self._forward(method, raw)
            if operation == "GetFindings" and status == 200:
                body = self._overlay(body)
            self._send(status, body, headers)

        def _forward(self, method: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", front.moto_port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            conn.request(method, self.path, body=raw, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            return resp.status, dict(resp.getheaders()), body

        def _track_imports(self, body: dict[str, Any]) -> None:
            for f in body.get("Findings", []):
                ident, new = f["Id"], f.get("RecordState", "ACTIVE")
                if (
                    front.record_state.get(ident) == "ARCHIVED"
                    and new == "ACTIVE"
                    and front.workflow.get(ident) in ("RESOLVED", "NOTIFIED")
                ):
                    front.workflow[ident] = "NEW"
                front.record_state[ident] = new

        def _batch_update(self, body: dict[str, Any]) -> dict[str, Any]:
            done, failed = [], []
            for ident in body.get("FindingIdentifiers", []):
                if ident["Id"] not in front.record_state:
                    failed.append(
                        {"FindingIdentifier": ident, "ErrorCode": "FindingNotFound", "ErrorMessage": "no such finding"}
                    )
                    continue
                if "Workflow" in body:
                    front.workflow[ident["Id"]] = body["Workflow"]["Status"]
                if "Note" in body:
                    front.notes[ident["Id"]] = body["Note"]
                done.append(ident)
            return {"ProcessedFindings": done, "UnprocessedFindings": failed}

        def _overlay(self, body: bytes) -> bytes:
            doc = json.loads(body)
            for f in doc.get("Findings", []):
                status = front.workflow.get(f["Id"], "NEW")
                f["Workflow"] = {"Status": status}
                f["WorkflowState"] = status
                if f["Id"] in front.notes:
                    f["Note"] = {**front.notes[f["Id"]], "UpdatedAt": "2026-01-01T00:00:00Z"}
            return json.dumps(doc).encode()

    return Handler


def findings_by_id(client: Any) -> dict[str, dict[str, Any]]:
    """Every finding moto holds (through the front: with Workflow), by Id."""
    out: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("get_findings").paginate():
        for f in page["Findings"]:
            out[f["Id"]] = f
    return out
