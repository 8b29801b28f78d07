"""The daemon's rooms: the domain depends on storage and chain, never on serving, and no cycles.

Read from the source with ``ast`` (every import counts, inside functions and under
``TYPE_CHECKING`` too), so a new import that crosses a wall fails here, not in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import waiaas_daemon

ROOT = Path(waiaas_daemon.__file__).parent
PACKAGE = "waiaas_daemon"

# What each room may import from the daemon (besides itself). ``schemas`` holds the
# typed documents both rooms read (requests, answers, the policy document); it may use
# the domain's vocabularies (audit actions, list limits) so they are written once.
ALLOWED = {
    "chain": set(),
    "storage": {"chain"},
    "schemas": {"domain"},
    "domain": {"storage", "chain", "schemas"},
    "serving": {"domain", "storage", "chain", "schemas"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The daemon modules one file imports (a submodule when ``from pkg import sub`` names one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PACKAGE))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith(PACKAGE):
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found


def room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, known) for name, path in known.items()}


def test_every_daemon_module_lives_in_a_room():
    loose = sorted(
        name
        for name in modules()
        if room(name) is None and name not in {PACKAGE, f"{PACKAGE}.__main__"}
    )
    assert loose == []


def test_no_room_imports_a_room_it_may_not():
    crossings = sorted(
        f"{name} -> {target}"
        for name, targets in graph().items()
        for target in targets
        if room(name) is not None
        and room(target) not in (None, room(name))
        and room(target) not in ALLOWED[room(name)]  # type: ignore[index]
    )
    assert crossings == []


def test_the_domain_never_imports_serving():
    # The rule the table above encodes, said once more in its plainest form.
    offenders = sorted(
        name
        for name, targets in graph().items()
        if room(name) == "domain" and any(room(t) == "serving" for t in targets)
    )
    assert offenders == []


def test_no_import_cycles_between_daemon_modules():
    assert [sorted(c) for c in strongly_connected(graph())] == []


def strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm; components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in edges:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_a_crossing_and_a_cycle():
    # The tests above pass on a clean tree; this shows they would fail on a dirty one.
    fake = {
        "waiaas_daemon.domain.a": {"waiaas_daemon.serving.app"},
        "waiaas_daemon.serving.app": {"waiaas_daemon.domain.a"},
    }
    assert strongly_connected(fake) == [set(fake)]
    assert room("waiaas_daemon.serving.app") not in ALLOWED["domain"]
