"""Server-side encryption: S3 checked on the objects moto stores (it applies SSE-KMS and bucket default
encryption); Cloud Storage and Azure emulators ignore keys and scopes, so there the requests are checked
to carry them (kmsKeyName, x-ms-encryption-scope), along with the create-only precondition."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from stores.store_cases import Case

from kubeiam.quarterly.run_index import FINDINGS, MARKER
from kubeiam.quarterly.stores import StoreOptions

T0 = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A small finished run: a findings.json, a page and one evidence file."""
    folder = tmp_path / "run"
    (folder / "evidence" / "kubernetes" / "c1").mkdir(parents=True)
    (folder / "evidence" / "kubernetes" / "c1" / "resources.json").write_text('{"items": []}')
    (folder / "summary.md").write_text("# kubeiam audit\n")
    (folder / FINDINGS).write_text(
        '{"generated_at": "2026-11-02T09:00:00Z", "findings": [], "coverage": {"clusters": [{"name": "c1"}]},'
        ' "summary": {"by_severity": {}}}'
    )
    return folder


OBJECTS = (FINDINGS, "summary.md", "evidence/kubernetes/c1/resources.json", MARKER)


def _kms_key(case: Case) -> str:
    import boto3

    kms = boto3.client("kms", endpoint_url=case.options.endpoint, region_name="eu-west-1")
    return str(kms.create_key(Description="kubeiam reports")["KeyMetadata"]["Arn"])


def test_s3_bucket_default_encryption_applies_when_no_key_is_given(
    make_case: Callable[[str], Case], run_folder: Path
) -> None:
    case = make_case("s3")
    key = _kms_key(case)
    bucket = case.extra["bucket"]
    case.raw.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]
        },
    )
    run = case.store("c1").publish(run_folder, T0)
    for name in OBJECTS:
        head = case.raw.head_object(Bucket=bucket, Key=f"c1/{run}/{name}")
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key, name


@pytest.mark.parametrize(
    ("sse", "algorithm"),
    [("KEY", "aws:kms"), ("AES256", "AES256"), ("aws:kms", "aws:kms")],
)
def test_s3_report_sse_asks_for_that_encryption_on_every_object(
    make_case: Callable[[str], Case], run_folder: Path, sse: str, algorithm: str
) -> None:
    case = make_case("s3")
    key = _kms_key(case) if sse == "KEY" else sse
    store = case.store("", StoreOptions(endpoint=case.options.endpoint, encryption_key=key))
    run = store.publish(run_folder, T0)
    for name in OBJECTS:
        head = case.raw.head_object(Bucket=case.extra["bucket"], Key=f"{run}/{name}")
        assert head["ServerSideEncryption"] == algorithm, name
        if sse == "KEY":
            assert head["SSEKMSKeyId"] == key
    # Without the key nothing asks for KMS: the object gets what the bucket gives (SSE-S3 here).
    plain = case.store("other").publish(run_folder, T0)
    head = case.raw.head_object(Bucket=case.extra["bucket"], Key=f"other/{plain}/{FINDINGS}")
    assert head.get("SSEKMSKeyId") is None


def test_s3_errors_are_one_line_naming_the_object(make_case: Callable[[str], Case], run_folder: Path) -> None:
    from kubeiam.quarterly.stores import StoreError

    case = make_case("s3")
    gone = case.store()
    case.raw.delete_bucket(Bucket=case.extra["bucket"])
    with pytest.raises(StoreError) as err:
        gone.publish(run_folder, T0)
    text = str(err.value)
    assert "\n" not in text and f"s3://{case.extra['bucket']}/" in text and "NoSuchBucket" in text


class _Recorder:
    """Wraps a requests.Session: keeps (method, url, headers) of every request."""

    def __init__(self) -> None:
        import requests

        self.calls: list[tuple[str, str, dict[str, str]]] = []
        recorder = self

        class Session(requests.Session):
            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
                recorder.calls.append((method, url, dict(kwargs.get("headers") or {})))
                return super().request(method, url, *args, **kwargs)

        self.session = Session()


def test_gcs_asks_for_the_kms_key_and_creates_only(make_case: Callable[[str], Case], run_folder: Path) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.storage import Client

    case = make_case("gcs")
    recorder = _Recorder()
    client = Client(
        project=None,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": case.options.endpoint},
        _http=recorder.session,
    )
    key = "projects/p1/locations/europe-west1/keyRings/kubeiam/cryptoKeys/reports"
    run = case.store("", StoreOptions(client=client, encryption_key=key)).publish(run_folder, T0)
    uploads = [url for method, url, _ in recorder.calls if method == "POST" and "/upload/" in url]
    assert len(uploads) == len(OBJECTS)
    for url in uploads:
        assert "kmsKeyName=projects%2Fp1%2Flocations%2Feurope-west1%2FkeyRings%2Fkubeiam%2FcryptoKeys%2Freports" in url
        assert "ifGenerationMatch=0" in url
    assert case.store().runs() == [run]


def test_gcs_without_a_key_leaves_the_bucket_default(make_case: Callable[[str], Case], run_folder: Path) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.storage import Client

    case = make_case("gcs")
    recorder = _Recorder()
    client = Client(
        None, AnonymousCredentials(), client_options={"api_endpoint": case.options.endpoint}, _http=recorder.session
    )
    case.store("", StoreOptions(client=client)).publish(run_folder, T0)
    uploads = [url for method, url, _ in recorder.calls if method == "POST" and "/upload/" in url]
    assert uploads and not any("kmsKeyName" in url for url in uploads)


def test_azure_asks_for_the_encryption_scope_and_creates_only(
    make_case: Callable[[str], Case], run_folder: Path
) -> None:
    from azure.storage.blob import ContainerClient

    case = make_case("azure")
    seen: list[tuple[str, str, dict[str, str]]] = []

    def hook(request: Any) -> None:
        http = request.http_request
        seen.append((http.method, http.url, dict(http.headers)))

    client = ContainerClient(
        case.options.endpoint, case.extra["container"], credential=case.options.credential, raw_request_hook=hook
    )
    run = case.store("", StoreOptions(client=client, encryption_key="kubeiam-reports")).publish(run_folder, T0)
    puts = [headers for method, _, headers in seen if method == "PUT"]
    assert len(puts) == len(OBJECTS)
    for headers in puts:
        assert headers.get("x-ms-encryption-scope") == "kubeiam-reports"
        assert headers.get("If-None-Match") == "*"
    assert case.store().runs() == [run]
    seen.clear()
    case.store("plain", StoreOptions(client=client)).publish(run_folder, T0)
    assert not any("x-ms-encryption-scope" in h for m, _, h in seen if m == "PUT")
