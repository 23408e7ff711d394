"""Issue 15, item 4 (GCP): token-creator and actAs chains through other service accounts, to any depth,
cycles handled, the path shown hop by hop."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from gcp_builder import PROJECT, Case, binding, gsa
from gcp_deeper_cases import API, SA, on_account, trusted
from kubeiam_gcp.judge import reach as reach_module

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

TOKEN = "roles/iam.serviceAccountTokenCreator"


def _gcp002(case: Case, root: Path) -> list:
    return [
        f for f in audit(Evidence(case.write(root))).findings if f.rule_id == "GCP-002" and f.service_account == "api"
    ]


def _chain(depth: int, cycle: bool = False) -> Case:
    """api -> hop1 -> ... -> hopN (each mints the next one's tokens on that account); hopN holds Owner.
    With `cycle`, every hop can also mint api's and hop1's tokens."""
    hops = [gsa(f"hop{i}") for i in range(1, depth + 1)]
    assets = [on_account(hops[0], TOKEN)]
    assets += [on_account(b, TOKEN, f"serviceAccount:{a}") for a, b in pairwise(hops)]
    if cycle:
        assets += [on_account(API, TOKEN, f"serviceAccount:{h}") for h in hops]
        assets += [on_account(hops[0], TOKEN, f"serviceAccount:{h}") for h in hops[1:]]
    return Case(
        gsas=[API, *hops],
        sa_policies=trusted(*hops),
        assets=assets,
        project_policy=[binding("roles/owner", f"serviceAccount:{hops[-1]}")],
    )


def test_a_chain_of_five_hops_reaches_owner_and_shows_each_hop(tmp_path: Path) -> None:
    (finding,) = _gcp002(_chain(5), tmp_path)
    assert finding.severity is Severity.CRITICAL
    top = finding.evidence["reaches"][0]
    assert top["identity"] == gsa("hop5") and top["power"] == "admin"
    assert [h["identity"] for h in top["path"]] == [gsa(f"hop{i}") for i in range(1, 6)]
    assert {h["via"] for h in top["path"]} == {"iam.serviceAccounts.getAccessToken"}
    assert top["path"][1]["grant"].startswith(f"{TOKEN}@//iam.googleapis.com/projects/{PROJECT}/serviceAccounts/")
    assert finding.evidence["accounts_reached"] == 5


def test_cycles_end_the_walk_and_change_nothing(tmp_path: Path) -> None:
    plain = _gcp002(_chain(3), tmp_path / "plain")
    looped = _gcp002(_chain(3, cycle=True), tmp_path / "cycle")
    assert [f.fingerprint for f in looped] == [f.fingerprint for f in plain]
    (finding,) = looped
    assert finding.severity is Severity.CRITICAL
    # The identity itself (reached back through the cycle) is never reported as something it reaches.
    assert API not in {r["identity"] for r in finding.evidence["reaches"]}
    assert [h["identity"] for h in finding.evidence["reaches"][0]["path"]] == [gsa("hop1"), gsa("hop2"), gsa("hop3")]


def test_a_chain_to_nothing_stronger_stays_high(tmp_path: Path) -> None:
    case = _chain(2)
    case.project_policy = [binding("roles/pubsub.publisher", f"serviceAccount:{gsa('hop2')}")]
    (finding,) = _gcp002(case, tmp_path)
    assert finding.severity is Severity.HIGH
    assert {r["power"] for r in finding.evidence["reaches"]} == {"escalation"}  # hop1 mints hop2's tokens


def test_project_wide_token_creator_walks_the_project_once(tmp_path: Path, monkeypatch) -> None:
    """Every account of the project is reached through one set node; many identities share the walk."""
    many = [gsa(f"svc{i:03d}") for i in range(40)]
    ksas = [("app", "api", API)] + [("app", f"k{i}", e) for i, e in enumerate(many)]
    case = Case(
        ksas=ksas,
        gsas=[API, *many],
        project_policy=[
            binding(TOKEN, SA, *(f"serviceAccount:{e}" for e in many)),
            binding("roles/editor", f"serviceAccount:{many[-1]}"),
        ],
    )
    walks = []
    real = reach_module._walk
    monkeypatch.setattr(reach_module, "_walk", lambda inv, view, hop: walks.append(hop.target) or real(inv, view, hop))
    report = audit(Evidence(case.write(tmp_path)))
    assert walks == [f"projects/{PROJECT}"]
    criticals = [f for f in report.findings if f.rule_id == "GCP-002" and f.severity is Severity.CRITICAL]
    assert len(criticals) == 40  # everyone but the Editor itself (GCP-001 reports it) reaches the Editor
    top = next(f for f in criticals if f.service_account == "api").evidence["reaches"][0]
    assert top == {
        "identity": many[-1],
        "power": "admin",
        "holds": [f"roles/editor@projects/{PROJECT}"],
        "path": [
            {"identity": many[-1], "via": "iam.serviceAccounts.getAccessToken", "grant": f"{TOKEN}@projects/{PROJECT}"}
        ],
    }


def test_a_resource_condition_on_a_project_wide_grant_narrows_the_accounts_reached(tmp_path: Path) -> None:
    admin = gsa("admin")
    plain = gsa("plain")
    cond = {"expression": f"resource.name == 'projects/-/serviceAccounts/{plain}'", "title": "plain only"}
    case = Case(
        gsas=[API, admin, plain],
        sa_policies=trusted(admin, plain),
        project_policy=[binding(TOKEN, SA, condition=cond), binding("roles/owner", f"serviceAccount:{admin}")],
    )
    (finding,) = _gcp002(case, tmp_path)
    assert finding.severity is Severity.HIGH and "reaches" not in finding.evidence
    cond["expression"] = f"resource.name == 'projects/-/serviceAccounts/{admin}'"
    (finding,) = _gcp002(case, tmp_path / "admin")
    assert finding.severity is Severity.CRITICAL


def test_set_iam_policy_on_an_account_is_a_hop(tmp_path: Path) -> None:
    admin = gsa("admin")
    case = Case(
        gsas=[API, admin],
        sa_policies=trusted(admin),
        assets=[on_account(admin, "roles/iam.serviceAccountAdmin")],
        project_policy=[binding("roles/owner", f"serviceAccount:{admin}")],
    )
    (finding,) = _gcp002(case, tmp_path)
    assert finding.severity is Severity.CRITICAL
    assert finding.evidence["reaches"][0]["path"][0]["via"] == "iam.serviceAccounts.setIamPolicy"
