"""One floor plan for every provider, a core in wings, no import circles (DESIGN.md, docs/CONTRIBUTING.md).

Each check is a function over the module map, with a test feeding it a violation, so each is known to
be able to fail.
"""

from __future__ import annotations

from collections.abc import Collection

import pytest
from source_map import ALL_MODULES, CORE_MODULES, PROVIDER_PACKAGES, import_graph

# Every provider has these rooms (modules or packages); a cloud provider also judges what an identity may do.
ROOMS = ("declarations", "view", "evidence", "evidence.reader", "evidence.coverage", "rules", "live", "live.collector")
CLOUD_ROOMS = ("judge", "live.plan", "live.clients")
CORE_WINGS = ("vocabulary", "pipeline", "quarterly", "render", "safety")
CORE_TOP_LEVEL = ("kubeiam", "kubeiam.cli", "kubeiam.errors", "kubeiam.__main__")


def missing_rooms(package: str, modules: Collection[str], rooms: Collection[str]) -> list[str]:
    return [room for room in rooms if f"{package}.{room}" not in modules]


@pytest.mark.parametrize("package", PROVIDER_PACKAGES)
def test_every_provider_has_the_same_rooms(package: str) -> None:
    rooms = ROOMS + (() if package == "kubeiam_kubernetes" else CLOUD_ROOMS)
    assert missing_rooms(package, ALL_MODULES, rooms) == []


def test_floor_plan_check_catches_a_missing_room() -> None:
    modules = {"kubeiam_x", "kubeiam_x.declarations", "kubeiam_x.rules", "kubeiam_x.evidence"}
    assert missing_rooms("kubeiam_x", modules, ("declarations", "evidence.reader", "view")) == [
        "evidence.reader",
        "view",
    ]


@pytest.mark.parametrize("package", PROVIDER_PACKAGES)
def test_every_provider_declares_rules_declarations_and_its_rules_tuple(package: str) -> None:
    import importlib

    provider = importlib.import_module(package).PROVIDER
    rules = importlib.import_module(f"{package}.rules")
    assert provider.rules is rules.RULES and provider.rules
    assert provider.declarations is importlib.import_module(f"{package}.declarations").DECLARATIONS


def stray_core_modules(modules: Collection[str]) -> list[str]:
    """Core modules outside the wings (and the few top-level entry modules)."""
    return sorted(
        m for m in modules if m not in CORE_TOP_LEVEL and not any(m.startswith(f"kubeiam.{w}") for w in CORE_WINGS)
    )


def test_the_core_is_in_wings() -> None:
    assert stray_core_modules(CORE_MODULES) == []


def test_wing_check_catches_a_stray_module() -> None:
    assert stray_core_modules({"kubeiam.cli", "kubeiam.vocabulary.model", "kubeiam.grouping"}) == ["kubeiam.grouping"]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles (strongly connected components of more than one module), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan; the graph is a few hundred modules, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _graph_without_package_inits() -> dict[str, set[str]]:
    """A package's `__init__` that re-exports its modules is not a circle with them: Python runs the
    `__init__` first. So package nodes are left out; circles between modules are what count."""
    sources = {n: p.read_text() for n, p in ALL_MODULES.items()}
    packages = {n for n, p in ALL_MODULES.items() if p.name == "__init__.py"}
    graph = import_graph(sources)
    return {m: targets - packages for m, targets in graph.items() if m not in packages}


def test_no_import_circles() -> None:
    assert circles(_graph_without_package_inits()) == []


def test_circle_check_catches_a_circle() -> None:
    graph = {"a.reader": {"a.links"}, "a.links": {"a.gaps"}, "a.gaps": {"a.reader"}, "a.view": set()}
    assert circles(graph) == [["a.gaps", "a.links", "a.reader"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def registry_reach(graph: dict[str, set[str]], start_prefix: str, forbidden: str) -> list[str]:
    """Modules under `start_prefix` that reach `forbidden` through their imports."""
    out = []
    for start in sorted(m for m in graph if m.startswith(start_prefix)):
        seen, queue = {start}, [start]
        while queue:
            for nxt in graph.get(queue.pop(), ()):
                if nxt == forbidden:
                    out.append(start)
                    queue = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
    return out


def test_no_renderer_loads_the_plugin_registry() -> None:
    sources = {n: p.read_text() for n, p in ALL_MODULES.items()}
    assert registry_reach(import_graph(sources), "kubeiam.render", "kubeiam.pipeline.providers") == []


def test_registry_check_catches_a_renderer_that_loads_it() -> None:
    graph = {"kubeiam.render.sarif": {"kubeiam.render.catalogue"}, "kubeiam.render.catalogue": {"reg"}, "reg": set()}
    assert registry_reach(graph, "kubeiam.render", "reg") == ["kubeiam.render.catalogue", "kubeiam.render.sarif"]
