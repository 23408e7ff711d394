"""Which clusters a live run talks to: kubeconfig contexts (`--context`, repeatable) or in-cluster.

Every way this can go wrong before the first API call is the user's input, so it is an
`InputError` with one line naming the file or context.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from kubeiam.errors import InputError

_EKS_ARN = re.compile(r"^arn:aws[\w-]*:eks:[^:]*:\d*:cluster/(?P<name>.+)$")
_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
IN_CLUSTER = "in-cluster"


@dataclass(frozen=True)
class Target:
    """One cluster to collect from."""

    cluster: str
    """Evidence folder name (`kubernetes/<cluster>/`), how findings name the cluster."""
    context: str | None
    """The kubeconfig context, None for in-cluster config."""
    server: str
    """The API server URL (for messages)."""
    api_client: Any = field(compare=False, repr=False)
    """A `kubernetes.client.ApiClient` for this cluster."""
    kubeconfig: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The kubeconfig's entries for this context, as `kubeconfig.json` records them (`minified`); None in-cluster."""

    @property
    def label(self) -> str:
        return f"context {self.context}" if self.context else "in-cluster config"


def cluster_folder(kube_cluster: str) -> str:
    """The evidence folder for a kubeconfig cluster entry.

    Why strip the decorations: an EKS ARN or GKE `gke_PROJECT_LOCATION_NAME` entry names the same
    cluster the cloud evidence names by its short name, and a folder name must not contain `/` or `:`.
    """
    name = kube_cluster
    m = _EKS_ARN.match(kube_cluster)
    if m:
        name = m["name"]
    elif kube_cluster.startswith("gke_") and kube_cluster.count("_") >= 3:
        name = kube_cluster.split("_", 3)[3]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "cluster"


def resolve_targets(options: argparse.Namespace) -> list[Target]:
    contexts: list[str] = list(getattr(options, "contexts", None) or [])
    explicit = getattr(options, "kubeconfig", None)
    cluster_name = getattr(options, "cluster_name", None)
    if cluster_name is not None and not _FOLDER.match(cluster_name):
        raise InputError(f"--cluster-name {cluster_name!r}: use letters, digits, '.', '_' and '-' only")
    if cluster_name is not None and len(set(contexts)) > 1:
        raise InputError("--cluster-name names one cluster: give a single --context with it")
    paths = _kubeconfig_paths(explicit)
    if not paths:
        if contexts:
            raise InputError(f"--context {contexts[0]}: no kubeconfig found ($KUBECONFIG, ~/.kube/config)")
        return [_in_cluster(cluster_name)]
    docs = [_load_file(p) for p in paths]
    config_file = os.pathsep.join(str(p) for p in paths)
    shown = str(paths[0]) if len(paths) == 1 else "$KUBECONFIG"
    # kubectl's merge rule: the first file to name a context (or set current-context) wins.
    by_name: dict[str, dict[str, Any]] = {}
    clusters: dict[str, dict[str, Any]] = {}
    for doc in docs:
        for ctx in doc.get("contexts") or []:
            if isinstance(ctx, dict) and isinstance(ctx.get("name"), str):
                by_name.setdefault(ctx["name"], ctx)
        entries = doc.get("clusters")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                clusters.setdefault(entry["name"], entry)
    active = next((d["current-context"] for d in docs if d.get("current-context")), None)
    names = ", ".join(sorted(by_name)) or "none"
    if not contexts:
        if not active:
            raise InputError(f"kubeconfig {shown}: no current-context; pass --context (available: {names})")
        contexts = [str(active)]
    from kubernetes import config  # the SDK only on the live path

    targets: list[Target] = []
    for ctx in dict.fromkeys(contexts):
        if ctx not in by_name:
            raise InputError(f"--context {ctx}: no such context in kubeconfig {shown} (available: {names})")
        kube_cluster = str((by_name[ctx].get("context") or {}).get("cluster") or ctx)
        try:
            client = config.new_client_from_config(config_file=config_file, context=ctx, persist_config=False)
        except Exception as exc:
            raise InputError(f"--context {ctx}: cannot load it from kubeconfig {shown} ({_one_line(exc)})") from None
        recorded = minified(ctx, by_name[ctx], clusters.get(kube_cluster, {"name": kube_cluster}))
        folder = cluster_name or cluster_folder(kube_cluster)
        # The server is for messages and the report: never with a user:password it may carry.
        targets.append(Target(folder, ctx, _without_userinfo(client.configuration.host), client, recorded))
    seen: dict[str, str] = {}
    for t in targets:
        if t.cluster in seen:
            raise InputError(
                f"contexts {seen[t.cluster]} and {t.context} both name cluster '{t.cluster}': collect them separately"
            )
        seen[t.cluster] = str(t.context)
    return targets


def minified(context: str, entry: Mapping[str, Any], cluster: Mapping[str, Any]) -> dict[str, Any]:
    """What `kubectl config view --minify --output json` prints for `context`, less what is not needed.

    Why this much: the cluster entry's name is the cluster's id wherever kubectl put it (an EKS ARN, GKE's
    `gke_PROJECT_LOCATION_NAME`), so fingerprints need no cloud file. Why no more: `users` holds
    credentials (tokens, client keys, exec commands with their arguments) and is left out entirely, as is
    the context's user name; of the cluster, only its server (without any user:password in the URL) stays,
    not its CA data, proxy URL or extensions. The evidence directory is handed to other people.
    """
    ctx = entry.get("context")
    kept_context = {
        k: ctx[k] for k in ("cluster", "namespace") if isinstance(ctx, dict) and isinstance(ctx.get(k), str)
    }
    details = cluster.get("cluster")
    server = details.get("server") if isinstance(details, dict) else None
    kept_cluster = {"server": _without_userinfo(server)} if isinstance(server, str) else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster["name"], "cluster": kept_cluster}],
        "contexts": [{"name": context, "context": kept_context}],
        "current-context": context,
    }


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _kubeconfig_paths(explicit: str | os.PathLike[str] | None) -> list[Path]:
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.exists():
            raise InputError(f"--kubeconfig {explicit}: no such file")
        return [path]
    env = os.environ.get("KUBECONFIG")
    if env:
        # kubectl's rule: a list of files, missing ones skipped.
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p and Path(p).expanduser().exists()]
    default = Path("~/.kube/config").expanduser()
    return [default] if default.exists() else []


def _load_file(path: Path) -> dict[str, Any]:
    """Read and parse the file ourselves: the SDK's errors on a bad file are long and vague."""
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise InputError(f"kubeconfig {path}: is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"kubeconfig {path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"kubeconfig {path}: not valid YAML{where}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("contexts"), list):
        raise InputError(f"kubeconfig {path}: not a kubeconfig (no 'contexts' list)")
    return doc


def _in_cluster(cluster_name: str | None) -> Target:
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except Exception:
        raise InputError(
            "no kubeconfig found ($KUBECONFIG, ~/.kube/config or --kubeconfig) and not running inside a cluster"
        ) from None
    api_client = client.ApiClient(configuration)
    return Target(cluster_name or IN_CLUSTER, None, configuration.host, api_client)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
