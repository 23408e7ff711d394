"""Pure judgement over Kubernetes RBAC: who may act as a ServiceAccount (issue 13).

Standalone on purpose: standard library only, no import from the rest of kubeiam, so the report
can be wired to it later without either side waiting for the other.

- `rbac_model`: the frozen vocabulary (roles, bindings, subjects, problems).
- `rbac_parse`: `kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A -o json` to it.
- `rbac`: evaluation as the API server does it (aggregation, binding scope, subjects, matching).
- `takeover_atoms` / `takeover`: which grants let a subject become a given ServiceAccount.
- `expected_subjects`: the built-in subjects that may do so by design (not findings).
"""
