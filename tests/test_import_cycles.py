"""The house has no import circles where the issue found them, and one parse_style."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its body (lazy imports too)."""
    files = [p for d in ("live", "model", "export") for p in (REPO / d).rglob("*.py")]
    names = {_module_name(p) for p in files}
    graph: dict[str, set[str]] = {}
    for p in files:
        me = _module_name(p)
        deps: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[me] = {d for d in deps if d in names and d != me}
    return graph


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        for d in graph.get(m, ()):
            if d == goal:
                return True
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return False


@pytest.mark.parametrize("group", [
    ("live.audio", "live.mic", "live.source"),
    ("model.dataset", "model.dataset_load", "model.dataset_plot", "model.dataset_files"),
])
def test_no_import_circle(group: tuple[str, ...]) -> None:
    graph = import_graph()
    for m in group:
        assert m in graph, m
        assert not reaches(graph, m, m), f"{m} imports itself through a circle"


def test_parse_style_is_defined_once() -> None:
    where = [str(p.relative_to(REPO)) for d in ("live", "model", "export") for p in (REPO / d).rglob("*.py")
             for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.FunctionDef) and node.name == "parse_style"]
    assert where == ["live/control.py"]


def test_old_import_paths_still_work() -> None:
    from live import control, source
    from live.audio import Block, Source
    from live.engine import parse_style as p1
    from live.runtime import parse_style as p2
    from model.dataset import Clip, ClipRecord, load_clips, load_poses  # noqa: F401

    assert Block is source.Block and Source is source.Source
    assert p1 is p2 is control.parse_style
