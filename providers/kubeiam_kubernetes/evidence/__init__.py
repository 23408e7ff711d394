"""The Kubernetes evidence files (`kubernetes/<cluster>/`), parsed and read into the inventory (no network).

- `resources`: `resources.json`, a `kubectl get -o json` List, to namespaces, ServiceAccounts, pods, nodes.
- `openid`: `openid-configuration.json`, the token issuer.
- `network_policies`: which NetworkPolicies (and Cilium policies) stop pods from reaching IMDS.
- `coverage`: what the evidence lacks (a folder without files, ServiceAccounts only pods name).
- `reader`: `read(evidence, inventory)`, the provider's reading of it all.
"""
