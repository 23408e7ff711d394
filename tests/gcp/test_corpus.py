"""Against the public corpus (extracts in fixtures/gcp/corpus, see its README)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from gcp_builder import CLUSTER, NUMBER, POOL, PROJECT, Case, binding, policy
from gcp_corpus import corpus
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.profile import classify

from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.model import LinkStatus

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "gcp" / "corpus"


def _load(name: str):
    return json.loads((CORPUS / name).read_text())


def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (CORPUS / name).read_text().splitlines() if line.strip()]


def test_every_predefined_role_is_in_the_catalogue_and_classified() -> None:
    cat = load_catalogue()
    names = corpus()  # every role and its permissions (tests/gcp/test_corpus_roles.py audits them)
    assert len(names) == 2461
    wrong = [n for n, perms in names.items() if cat.permissions_of(n) != perms]
    assert wrong == []
    verdicts = {n: classify(n, cat.permissions_of(n)) for n in names}
    admin = sorted(n for n, p in verdicts.items() if p.admin)
    assert admin == ["roles/editor", "roles/owner"]
    escalating = sum(bool(p.escalation) for p in verdicts.values())
    # Plausibility, not a pinned number: a few hundred roles escalate, most do not.
    assert 100 < escalating < len(names) / 2


def test_owner_and_editor_are_admin_access_and_escalate() -> None:
    cat = load_catalogue()
    for role in ("roles/owner", "roles/editor"):
        profile = classify(role, cat.permissions_of(role))
        assert profile.admin and profile.escalation


@pytest.mark.parametrize("role", ["roles/viewer", "roles/browser"])
def test_viewer_and_browser_never_escalate(role: str) -> None:
    profile = classify(role, load_catalogue().permissions_of(role))
    assert not profile.admin
    for scope in ("broad", "resource", "other-account"):
        assert profile.escalation_on(scope) == ()


def _rhino_single_permissions() -> set[str]:
    methods = _load("gcp_privesc_methods.json")["methods"]
    return {m["Permissions"][0] for m in methods.values() if len(m["Permissions"]) == 1}


def test_every_role_with_a_rhino_single_permission_method_escalates() -> None:
    single = {p.lower() for p in _rhino_single_permissions()}
    assert len(single) >= 14
    cat = load_catalogue()
    holders = [r for r, perms in cat.roles.items() if single & {p.lower() for p in perms}]
    assert len(holders) > 50
    unflagged = [r for r in holders if not classify(r, cat.roles[r]).escalation_on("broad")]
    assert unflagged == []


def test_gcpwn_single_permission_paths_agree() -> None:
    """gcpwn's own permission -> roles map: every role it lists for an escalating permission we know
    (and the catalogue still has) is flagged."""
    mapping = _load("gcpwn_permission_to_roles_map.json")
    escalating = _rhino_single_permissions() | {
        p for p in mapping if p.endswith((".setIamPolicy",)) and p.startswith(("resourcemanager.", "iam."))
    }
    cat = load_catalogue()
    checked = 0
    for permission in escalating & set(mapping):
        for role in mapping[permission]:
            perms = cat.permissions_of(role)
            if perms is None or permission not in perms:
                continue  # gcpwn's snapshot is older than the catalogue
            checked += 1
            assert classify(role, perms).escalation_on("broad"), (role, permission)
    assert checked > 50


# --- k8s-workload-identity: the GKE samples and gcloud binding commands ------------------------------

_VARS = {
    "PROJECT_ID": PROJECT,
    "GKE_PROJECT_ID": PROJECT,
    "DNS_PROJECT_ID": PROJECT,
    "PROJECT_NUMBER": NUMBER,
    "NAMESPACE": "ns1",
    "K8S_NAMESPACE": "ns1",
    "KSA_NAME": "ksa1",
    "K8S_SA": "ksa1",
    "GSA_NAME": "app-gsa1",
    "GCP_SA": "app-gsa1",
    "SERVICE_ACCOUNT_NAME": "app-gsa1",
    "GSA_EMAIL": f"app-gsa1@{PROJECT}.iam.gserviceaccount.com",
    "sa_email": f"app-gsa1@{PROJECT}.iam.gserviceaccount.com",
    "WI_MEMBER": f"serviceAccount:{POOL}[ns1/ksa1]",
    "WIF_POOL_NAME": "aws-pool",
    "AWS_ACCOUNT_ID": "111122223333",
}


def _substitute(text: str) -> str:
    text = text.replace("zalando-external-dns-test", PROJECT)
    text = re.sub(r"\$\{?(\w+)\}?", lambda m: _VARS.get(m[1], m[0]), text)
    return re.sub(r"\b(PROJECT_ID|PROJECT_NUMBER|DNS_PROJECT_ID)\b", lambda m: _VARS[m[1]], text)


def _parse(command: str) -> dict[str, str] | None:
    """A gcloud `add-iam-policy-binding` command -> target, role, member (None for other commands)."""
    words = shlex.split(_substitute(command.lstrip("$ ").split(" 2>")[0].split(" ||")[0]))
    if "add-iam-policy-binding" not in words:
        return None
    i = words.index("add-iam-policy-binding")
    out = {"group": " ".join(words[1:i])}
    rest = words[i + 1 :]
    positional = []
    while rest:
        word = rest.pop(0)
        if word.startswith("--"):
            key, _, value = word[2:].partition("=")
            out[key] = value if value else rest.pop(0)
        else:
            positional.append(word)
    out["target"] = positional[0]
    return out


def _commands() -> list[dict[str, str]]:
    return [c for c in (_parse(x["command"]) for x in _jsonl("gcp_binding_commands.jsonl")) if c]


def test_every_gcloud_binding_command_parses() -> None:
    parsed = _commands()
    assert len(parsed) == len(_jsonl("gcp_binding_commands.jsonl"))
    assert all(c.get("role") and c.get("member") for c in parsed)


def _evidence_from_commands(tmp_path: Path, commands: list[dict[str, str]]) -> tuple[Path, dict]:
    """Evidence as the commands leave it: each `serviceAccount:POOL[NS/KSA]` workloadIdentityUser
    member becomes a KSA annotated with the GSA the command binds it to (what the docs do next)."""
    sa_policies: dict[str, list] = {}
    project, assets = [], []
    ksas: dict[tuple[str, str], str | None] = {}
    for c in commands:
        b = binding(c["role"], c["member"])
        legacy = re.fullmatch(r"serviceAccount:[^\[]+\[([^/]+)/([^\]]+)\]", c["member"])
        direct = re.search(r"/subject/ns/([^/]+)/sa/([^/]+)$", c["member"])
        if c["group"] == "iam service-accounts":
            sa_policies.setdefault(c["target"], []).append(b)
            if legacy:
                ksas[(legacy[1], legacy[2])] = c["target"]
        elif c["group"] == "projects":
            project.append(b)
        else:  # secrets, storage buckets: resource-level
            assets.append({"resource": f"//{c['group'].split()[0]}.googleapis.com/{c['target']}", "policy": policy(b)})
        if direct and "svc.id.goog" in c["member"]:
            ksas.setdefault((direct[1], direct[2]), None)
    case = Case(
        ksas=[(ns, name, email) for (ns, name), email in sorted(ksas.items())],
        gsas=sorted(set(sa_policies) | {e for e in ksas.values() if e}),
        project_policy=project,
        assets=assets,
        sa_policies={e: policy(*bs) for e, bs in sa_policies.items()},
    )
    return case.write(tmp_path), ksas


def _wi_commands() -> list[dict[str, str]]:
    return [c for c in _commands() if c["role"] == "roles/iam.workloadIdentityUser"]


def test_gcloud_binding_commands_resolve_as_documented(tmp_path: Path) -> None:
    commands = _commands()
    root, ksas = _evidence_from_commands(tmp_path, commands)
    annotated = {k: v for k, v in ksas.items() if v}
    assert len(annotated) >= 5  # cert-manager, external-dns, metrics exporter, postgres, the samples' KSA
    inv = read_inventory(Evidence(root), load_providers())
    links = [lk for lk in inv.links if lk.cloud == GCP]
    # `gcloud iam service-accounts add-iam-policy-binding GSA --role roles/iam.workloadIdentityUser
    #  --member serviceAccount:PROJECT.svc.id.goog[NS/KSA]`: the annotated KSA may act as the GSA.
    gsa_links = {(lk.namespace, lk.service_account): lk for lk in links if lk.mechanism == "gke-workload-identity"}
    assert set(gsa_links) == set(annotated)
    assert {k: lk.status for k, lk in gsa_links.items()} == dict.fromkeys(annotated, LinkStatus.RESOLVED)
    # Roles the docs grant to the GSA reach the KSA through it.
    for c in commands:
        member = c["member"].removeprefix("serviceAccount:")
        for k, lk in gsa_links.items():
            if lk.principal == member and c["role"] != "roles/iam.workloadIdentityUser":
                assert c["role"] in {g.role for g in lk.identity.grants}, (k, c)
    # The principal:// commands (external-secrets, external-dns) grant the KSA directly.
    direct = {
        (lk.namespace, lk.service_account): {g.role for g in lk.identity.grants}
        for lk in links
        if lk.mechanism == "gke-direct"
    }
    assert direct == {
        ("ns1", "ksa1"): {"roles/secretmanager.secretAccessor"},
        ("external-dns", "external-dns"): {"roles/dns.admin"},
    }
    # The self-managed pool (`system:serviceaccount:` subject) and the AWS principalSet are not GKE members.
    assert not any("aws-pool" in lk.principal for lk in links)


def test_without_the_workload_identity_user_commands_the_bindings_are_broken(tmp_path: Path) -> None:
    root, ksas = _evidence_from_commands(tmp_path, _commands())
    gcp = root / "gcp" / PROJECT / "service-account-iam-policies.json"
    gcp.write_text(json.dumps({e: {"etag": "ACAB"} for e in json.loads(gcp.read_text())}))
    report = audit(Evidence(root))
    broken = {(f.namespace, f.service_account) for f in report.findings if f.rule_id == "GCP-007"}
    assert broken == {k for k, v in ksas.items() if v}


def test_gke_sample_service_accounts_resolve_as_their_docs_intend(tmp_path: Path) -> None:
    samples = []
    for entry in _jsonl("gke_service_accounts_from_docs.jsonl"):
        obj = entry.get("manifest") or {}
        meta = obj.get("metadata") or {"name": (entry.get("serviceAccount") or {}).get("name")}
        annotations = meta.get("annotations") or (entry.get("serviceAccount") or {}).get("annotations") or {}
        if "raw" in entry and not entry.get("parsed"):
            m = re.search(r"name: (\S+)\n\s+namespace: (\S+)\n.*gcp-service-account: (\S+)", entry["raw"], re.S)
            meta, annotations = {"name": m[1], "namespace": m[2]}, {"iam.gke.io/gcp-service-account": m[3]}
        value = annotations["iam.gke.io/gcp-service-account"].replace("PROJECT_ID", PROJECT)
        samples.append((meta.get("namespace") or "default", meta["name"], value))
    valid = [s for s in samples if re.fullmatch(r"[a-z0-9-]+@[a-z0-9-]+\.iam\.gserviceaccount\.com", s[2])]
    # Placeholders (PATCHED_BY_OVERLAY, "", <PROJECT_ID>, [GCP_SA]) are for a person to fill in.
    assert {s[1] for s in valid} == {"airflow", "airflow-metadata-db"}
    case = Case(
        ksas=samples,
        gsas=[s[2] for s in valid],
        sa_policies={
            s[2]: policy(binding("roles/iam.workloadIdentityUser", f"serviceAccount:{POOL}[{s[0]}/{s[1]}]"))
            for s in valid
        },
    )
    report = audit(Evidence(case.write(tmp_path)))
    inv = read_inventory(Evidence(tmp_path), load_providers())
    links = {(lk.namespace, lk.service_account): lk.status for lk in inv.links if lk.cloud == GCP}
    assert links == {
        ("airflow", "airflow"): LinkStatus.RESOLVED,
        ("airflow", "airflow-metadata-db"): LinkStatus.RESOLVED,
    }
    malformed = {f.service_account for f in report.findings if f.rule_id == "K8S-003"}
    assert malformed == {s[1] for s in samples if s not in valid}
    assert inv.cluster(CLUSTER).stable_id
