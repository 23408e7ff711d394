"""The project's modules and what each imports, read with `ast` (imports are parsed, not grepped)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "src" / "kubeiam"
PROVIDERS = REPO / "providers"

SDK_ROOTS = {
    "boto3", "botocore", "aioboto3", "google", "googleapiclient", "grpc", "azure", "msrest", "msal",
    "kubernetes", "urllib3", "requests", "httpx", "moto",
}  # fmt: skip


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


def root(name: str) -> str:
    return name.split(".")[0]


def modules_under(base: Path, package_root: Path) -> dict[str, Path]:
    return {
        ".".join(p.relative_to(package_root).with_suffix("").parts).removesuffix(".__init__"): p
        for p in base.rglob("*.py")
    }


CORE_MODULES = modules_under(CORE, CORE.parent)
PROVIDER_MODULES = {
    name: path
    for pkg in sorted(PROVIDERS.glob("kubeiam_*"))
    if pkg.is_dir()
    for name, path in modules_under(pkg, PROVIDERS).items()
}
ALL_MODULES = {**CORE_MODULES, **PROVIDER_MODULES}
PROVIDER_PACKAGES = sorted(p.name for p in PROVIDERS.glob("kubeiam_*") if (p / "__init__.py").is_file())


def first_party(name: str, modules: dict[str, str] | dict[str, Path]) -> str | None:
    """The project module `name` refers to (a module, or the module defining a name), else None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """module -> the project modules it imports (a package's `__init__` counts as a module of its own)."""
    graph: dict[str, set[str]] = {}
    for module, text in sources.items():
        targets = {first_party(name, sources) for name, _ in imports_of(text, module)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph
