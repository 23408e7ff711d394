"""Live Kubernetes collection (the `kubernetes` client is imported here, never by the evidence reader).

`collect(request)` writes `kubernetes/<cluster>/resources.json`, `rbac.json`, `openid-configuration.json` and
`kubeconfig.json` for each kubeconfig context (or in-cluster) and returns what it could not read as
`CoverageError`s (a cluster that could not be read at all: `whole`, with the cluster as subject). Secrets are
never asked for: K8S-006 takes a legacy token Secret as possibly present (`evidence/token_secrets.py`).

- `kubeconfig`: which clusters (contexts, in-cluster), their API clients, and the kubeconfig entries kept.
- `plan`: which kinds and namespaces to request for the scope (`audit`, `--namespace`, `check`).
- `clients`: the calls to one API server (pages, 403 as coverage, the concurrency bound).
- `sanitize`: API objects as `kubectl get -o json` prints them, secret values redacted.
- `collector`: runs the plan per cluster and writes the files.
"""

from __future__ import annotations

from kubeiam_kubernetes.live.collector import collect

__all__ = ["collect"]
