"""`store_for`: which store a `--report-dir` or fleet source names, and the plug-ins behind the URL schemes."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from stores.store_cases import FACTORIES

from kubeiam.errors import InputError
from kubeiam.quarterly.stores import GROUP, LocalStore, ObjectStore, StoreError, StoreOptions, is_url, store_for


def test_paths_and_file_urls_are_local(tmp_path: Path) -> None:
    for target in (tmp_path, str(tmp_path), f"file://{tmp_path}", "C:\\reports", "relative/dir"):
        store = store_for(target, factories=FACTORIES)
        assert isinstance(store, LocalStore), target
    assert store_for(f"file://{tmp_path}").path == tmp_path  # type: ignore[attr-defined]
    assert not is_url("C:\\reports") and is_url("s3://b/p") and not is_url(Path("s3:/b"))


@pytest.mark.parametrize(
    ("url", "kind", "shown"),
    [
        ("s3://reports-bucket/kubeiam/eks-prod", "S3Bucket", "s3://reports-bucket/kubeiam/eks-prod"),
        ("s3://reports-bucket", "S3Bucket", "s3://reports-bucket"),
        ("gs://acme-reports/kubeiam/", "GcsBucket", "gs://acme-reports/kubeiam"),
        (
            "https://acmereports.blob.core.windows.net/kubeiam/prod/aks-apps",
            "BlobContainer",
            "https://acmereports.blob.core.windows.net/kubeiam/prod/aks-apps",
        ),
        (
            "https://acme.z12.blob.storage.azure.net/reports",
            "BlobContainer",
            "https://acme.z12.blob.storage.azure.net/reports",
        ),
    ],
)
def test_object_urls_go_to_their_plugin(url: str, kind: str, shown: str) -> None:
    store = store_for(url, StoreOptions(), FACTORIES)
    assert isinstance(store, ObjectStore)
    assert type(store.bucket).__name__ == kind and store.url == shown


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com/reports", "no report store serves https:// URLs like this one"),
        ("ftp://host/reports", "no report store serves ftp:// URLs"),
        ("s3://Bad_Bucket/x", "not an S3 bucket name"),
        ("gs://a/x", "not a Cloud Storage bucket name"),
        ("https://acme.blob.core.windows.net/", "no container name"),
    ],
)
def test_urls_no_store_serves_are_one_clear_error(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        store_for(url, StoreOptions(), FACTORIES)
    assert "\n" not in str(err.value) and url.split("://")[1].split("/")[0] in str(err.value)


def test_no_sdk_is_loaded_to_name_a_store() -> None:
    """An offline audit loads no cloud SDK: opening a store imports nothing until it is used."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from kubeiam_aws.storage import open_store as s3\n"
        "from kubeiam_gcp.storage import open_store as gs\n"
        "from kubeiam_azure.storage import open_store as az\n"
        "from kubeiam.quarterly.stores import store_for, StoreOptions\n"
        "f = {'s3': [s3], 'gs': [gs], 'https': [az]}\n"
        "for u in ('s3://bucket-a/p', 'gs://bucket-b/p', 'https://acct.blob.core.windows.net/cont/p'):\n"
        "    store_for(u, StoreOptions(), f)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'google', 'azure')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_installed_plugins_serve_each_scheme() -> None:
    """The `kubeiam.stores` entry points (pyproject.toml), once installed, name these factories."""
    installed = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    if not installed:
        pytest.skip("the kubeiam.stores entry points are not installed yet (pip install -e .)")
    assert installed == {
        "s3": "kubeiam_aws.storage:open_store",
        "gs": "kubeiam_gcp.storage:open_store",
        "https": "kubeiam_azure.storage:open_store",
    }
    assert isinstance(store_for("s3://reports-bucket/x"), ObjectStore)


def test_a_store_error_is_an_input_error() -> None:
    assert issubclass(StoreError, InputError)  # exit 2 and one line, through the CLI's one handler


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/reports?sv=2024&sig=SECRETSIG",
        "https://acct.blob.core.windows.net/x?sig=SECRETSIG",
        "ftp://user:SECRETSIG@host/reports",
    ],
)
def test_a_token_in_a_url_never_reaches_the_message(url: str) -> None:
    with pytest.raises(InputError) as err:
        store_for(url, StoreOptions(), FACTORIES)
    assert "SECRETSIG" not in str(err.value) and "sig=" not in str(err.value)
