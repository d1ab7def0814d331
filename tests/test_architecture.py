"""The import graph flows one way (docs/architecture.md): every import, inside functions too,
goes from a stage to a stage on its left or to a shared utility; no cycle anywhere."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "occmer"

# Importable from every stage (they import only each other, in this order).
UTILITIES = ("errors", "hashing", "frames", "outputs", "workers", "ray_runtime", "seeding", "progress", "official", "aus", "labels")
# The pipeline, left to right: a stage imports only from stages before it (and the utilities).
STAGES = ("databases", "faces", "occluders", "demo", "store", "protocols", "synthesis", "pipeline", "features",
          "importing", "occlude", "export", "data", "models", "pages", "spotting", "bench", "cli", "__main__")
# Inside a stage: modules before later ones (each list in order).
INSIDE = {
    "synthesis": ("job", "long_video", "local_runner", "ray_runner"),
    "bench": ("files", "metrics", "checkpoints", "training", "recipes", "models", "conditions", "batched", "jobs",
              "executors", "plots", "html", "report", "demo", "runner", "spotting"),
}


def _module(path: Path) -> tuple[str, ...]:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path) -> set[tuple[str, ...]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("occmer"):
            base = tuple(node.module.split("."))
            found.add(base)
            found.update(base + (alias.name,) for alias in node.names)  # `from occmer.bench import jobs`
        elif isinstance(node, ast.Import):
            found.update(tuple(a.name.split(".")) for a in node.names if a.name.startswith("occmer"))
    return found


def _rank(module: tuple[str, ...]) -> tuple[int, int]:
    top = module[1] if len(module) > 1 else ""
    if top in UTILITIES:
        return (0, UTILITIES.index(top))
    if top == "":
        return (0, -1)  # occmer/__init__ (the version)
    assert top in STAGES, f"occmer.{top} is in no stage of the architecture: add it to tests/test_architecture.py"
    inner = INSIDE.get(top, ())
    sub = module[2] if len(module) > 2 else ""
    return (1 + STAGES.index(top), inner.index(sub) if sub in inner else -1)


def _graph() -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = defaultdict(set)
    for module, path in modules.items():
        for target in _imports(path):
            while target and target not in modules:
                target = target[:-1]  # a name imported from a module
            if target and target != module and target[: len(module)] != module:
                graph[module].add(target)
    return graph


def test_every_import_points_left() -> None:
    upward = []
    for module, targets in _graph().items():
        for target in targets:
            a, b = _rank(module), _rank(target)
            same_stage = a[0] == b[0]
            if b[0] > a[0] or (same_stage and a[0] > 0 and b[1] > a[1] >= 0):
                upward.append(f"{'.'.join(module)} -> {'.'.join(target)}")
            if a[0] == 0 and b[0] == 0 and b[1] > a[1]:
                upward.append(f"{'.'.join(module)} -> {'.'.join(target)} (utilities)")
    assert not upward, "imports that run up the stage order:\n" + "\n".join(sorted(upward))


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[tuple[str, ...], int] = {}
    cycles = []

    def visit(node: tuple[str, ...], trail: list[tuple[str, ...]]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(".".join(m) for m in trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in list(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
