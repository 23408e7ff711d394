"""`read(evidence, inventory)`: every `kubernetes/<cluster>/` folder into the model and the Kubernetes view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import (
    Cluster,
    CoverageError,
    EgressBlock,
    Inventory,
    Namespace,
    Node,
    ServiceAccount,
    Workload,
)
from kubeiam_kubernetes.evidence.coverage import absent_resources, implicit_service_accounts
from kubeiam_kubernetes.evidence.items import load_items
from kubeiam_kubernetes.evidence.kubeconfig import load_kubeconfig_name
from kubeiam_kubernetes.evidence.network_policies import egress_blocks
from kubeiam_kubernetes.evidence.openid import load_issuer
from kubeiam_kubernetes.evidence.rbac import RBAC_FILE, absent_rbac, annotated_service_accounts, load_rbac
from kubeiam_kubernetes.evidence.resources import ClusterResources
from kubeiam_kubernetes.evidence.token_secrets import TOKEN_SECRETS_FILE, load_token_secrets, merged, token_secrets
from kubeiam_kubernetes.judge.rbac_model import RbacObjects
from kubeiam_kubernetes.view import NAME, KubernetesView, ServiceAccountKey

# Kinds the model holds (Secrets: only their key names, inside the workloads' credentials).
_IN_THE_MODEL = {"Namespace", "ServiceAccount", "Pod", "Node", "Secret"}


def read(evidence: Evidence, inventory: Inventory) -> Inventory:
    clusters: list[Cluster] = []
    namespaces: list[Namespace] = []
    sas: list[ServiceAccount] = []
    workloads: list[Workload] = []
    nodes: list[Node] = []
    blocks: list[EgressBlock] = []
    extras: list[Mapping[str, Any]] = []
    misplaced: dict[ServiceAccountKey, dict[str, dict[str, str]]] = {}
    errors: list[CoverageError] = []
    rbac: dict[str, RbacObjects] = {}
    tokens: dict[ServiceAccountKey, tuple[str, ...]] = {}
    listed: set[str] = set()
    for name in evidence.children("kubernetes"):
        # A folder is a cluster some evidence refers to, even when it holds nothing: absent is not empty.
        base = f"kubernetes/{name}"
        loaded = load_items(evidence, f"{base}/resources.json", name)
        issuer = load_issuer(evidence, f"{base}/openid-configuration.json")
        kubeconfig_name, unnamed = load_kubeconfig_name(evidence, f"{base}/kubeconfig.json", name)
        errors += unnamed
        if loaded is None:
            errors.append(absent_resources(name, f"{base}/resources.json", evidence.files(base, suffix="")))
        else:
            errors += loaded.errors
        items = loaded.items if loaded else []
        parsed = ClusterResources.of(name, items, inventory.declarations)
        clusters.append(
            Cluster(
                name=name,
                cloud=parsed.cloud(),
                issuer=issuer,
                source=f"{base}/resources.json",
                kubeconfig_name=kubeconfig_name,
            )
        )
        namespaces += parsed.namespaces()
        cluster_sas = parsed.service_accounts()
        sas += cluster_sas
        objects, rbac_errors = load_rbac(evidence, f"{base}/{RBAC_FILE}", name)
        errors += rbac_errors
        if objects is not None:
            rbac[name] = objects
        elif loaded is not None:
            annotated = annotated_service_accounts(cluster_sas, inventory.declarations.by_key)
            errors += [absent_rbac(name, f"{base}/{RBAC_FILE}", annotated)] if annotated else []
        # Token Secrets in resources.json exist; only a whole token-secrets.json says the others do not.
        own_tokens = token_secrets(name, parsed.by_kind.get("Secret", []))
        secret_list = load_token_secrets(evidence, f"{base}/{TOKEN_SECRETS_FILE}", name)
        if secret_list is not None:
            own_tokens = merged(own_tokens, secret_list.tokens)
            errors += secret_list.errors
            if secret_list.whole:
                listed.add(name)
        tokens.update(own_tokens)
        misplaced.update(parsed.misplaced_annotations())
        workloads += parsed.workloads()
        nodes += parsed.nodes()
        blocks += egress_blocks(name, parsed.by_kind, loaded.unreadable_policies if loaded else ())
        extras += [
            {"cluster": name, **obj}
            for kind, objs in parsed.by_kind.items()
            if kind not in _IN_THE_MODEL
            for obj in objs
        ]
    sas += implicit_service_accounts(sas, workloads)
    views = dict(inventory.views)
    views[NAME] = KubernetesView(tuple(extras), misplaced, rbac, tokens, frozenset(listed))
    return inventory.with_(
        clusters=inventory.clusters + tuple(clusters),
        namespaces=inventory.namespaces + tuple(namespaces),
        service_accounts=inventory.service_accounts + tuple(sorted(sas, key=lambda s: s.key)),
        workloads=inventory.workloads + tuple(workloads),
        nodes=inventory.nodes + tuple(nodes),
        egress_blocks=inventory.egress_blocks + tuple(blocks),
        errors=inventory.errors + tuple(errors),
        views=views,
    )
