"""The Kubernetes evidence files (`kubernetes/<cluster>/`), parsed and read into the inventory (no network).

- `items`: `resources.json` loaded: the objects that can be read, and a coverage error for each one (or
  field) that cannot, or for the pages a paged list lacks; `shapes`: the field types the reader expects.
- `resources`: the checked objects to namespaces, ServiceAccounts, pods, nodes.
- `openid`: `openid-configuration.json`, the token issuer.
- `kubeconfig`: `kubeconfig.json`, the kubeconfig's name for the cluster (a stable id's source).
- `network_policies`: which NetworkPolicies (and Cilium policies) stop pods from reaching IMDS.
- `coverage`: what the evidence lacks (a cluster folder without resources.json, ServiceAccounts only pods name).
- `reader`: `read(evidence, inventory)`, the provider's reading of it all.
"""
