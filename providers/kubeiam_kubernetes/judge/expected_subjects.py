"""Subjects that act as ServiceAccounts by design, so their takeover paths are not findings.

Derived from Kubernetes' bootstrap policy (the six testdata files under
fixtures/kubernetes/rbac/k8s-defaults, from plugin/pkg/auth/authorizer/rbac/bootstrappolicy): every
default subject that can become some ServiceAccount is here, each with why, and each only through
its own bootstrap binding. A tested check keeps the table and the defaults in step both ways.

Deliberately absent:
- Group system:nodes / User system:node:NAME. Upstream's `system:node` ClusterRoleBinding has no
  subjects (since 1.8); nodes are authorised by the Node authorizer, which limits them to their own
  pods' ServiceAccounts (a kubelet holds those tokens anyway, which no RBAC change can remove). Where
  RBAC does bind `system:node` to nodes (clusters upgraded from before 1.8), every node can mint a
  token for every ServiceAccount: that is a finding, not a design.
- System components of managed offerings (EKS `eks:*`, GKE `system:gke-*`, AKS `aks-*`): not in the
  corpus; a caller adds them with `extra` once they are checked against real clusters.
The caller adds the workload's own controllers per target (`Target.own_controllers`).
"""

from __future__ import annotations

from collections.abc import Iterable

from kubeiam_kubernetes.judge.takeover_model import ExpectedSubject

_CONTROLLERS = (
    (
        "clusterrole-aggregation-controller",
        "writes the aggregated rules into admin/edit/view and any ClusterRole "
        "with an aggregationRule: it needs `escalate` and `update` on ClusterRoles",
    ),
    (
        "cronjob-controller",
        "creates the Jobs of CronJobs (and updates CronJobs), whose pods run as any ServiceAccount of the namespace",
    ),
    ("daemon-set-controller", "creates and patches the pods of DaemonSets"),
    ("deployment-controller", "creates ReplicaSets from Deployments and updates their pods"),
    ("job-controller", "creates and patches the pods of Jobs"),
    ("replicaset-controller", "creates and patches the pods of ReplicaSets"),
    ("replication-controller", "creates and patches the pods of ReplicationControllers"),
    ("statefulset-controller", "creates and patches the pods of StatefulSets"),
    ("persistent-volume-binder", "creates the recycler pods of persistent volumes"),
    (
        "generic-garbage-collector",
        "patches owner references on every kind of object (`*` get/list/patch/update), "
        "which RBAC cannot tell from rewriting a pod template or reading a Secret",
    ),
    (
        "namespace-controller",
        "lists and deletes everything in a namespace being deleted (`*` get/list), Secrets "
        "and pod subresources included",
    ),
    ("resourcequota-controller", "counts every kind of object for quotas (`*` list/watch), Secrets included"),
    ("podcheckpoint-controller", "asks kubelets for pod checkpoints through nodes/proxy"),
    ("bootstrap-signer", "reads bootstrap-token Secrets in kube-system to sign the cluster-info ConfigMap"),
    ("token-cleaner", "reads and deletes expired bootstrap-token Secrets in kube-system"),
)

DEFAULT_EXPECTED_SUBJECTS: tuple[ExpectedSubject, ...] = (
    ExpectedSubject(
        "group:system:masters",
        "cluster-admin",
        "the bootstrap superuser group: bound to cluster-admin by default and exempt from RBAC in the API server; "
        "membership comes from client certificates (or a cloud mapping), which is where to look instead",
    ),
    ExpectedSubject(
        "user:system:kube-controller-manager",
        "system:kube-controller-manager",
        "the controller manager runs the token, ServiceAccount and workload controllers: it mints tokens for every "
        "ServiceAccount (serviceaccounts/token create) and lists everything (`*` list/watch) by design",
    ),
    *(
        ExpectedSubject(f"serviceaccount:kube-system/{name}", f"system:controller:{name}", f"the {name}: {why}")
        for name, why in _CONTROLLERS
    ),
)


def expected_table(extra: Iterable[ExpectedSubject] = (), remove: Iterable[str] = ()) -> tuple[ExpectedSubject, ...]:
    """The default table, minus entries whose `principal` pattern is in `remove`, plus `extra`
    (what `kubeiam.toml` would carry: e.g. a GitOps controller the team does expect)."""
    gone = set(remove)
    unknown = gone - {e.principal for e in DEFAULT_EXPECTED_SUBJECTS}
    if unknown:  # a typo would silently keep the entry: refuse it
        raise ValueError(f"not in the expected-subjects table: {', '.join(sorted(unknown))}")
    return tuple(e for e in DEFAULT_EXPECTED_SUBJECTS if e.principal not in gone) + tuple(extra)
