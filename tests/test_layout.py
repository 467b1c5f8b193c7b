"""The import direction of the architecture holds: engine <- backend <- graphql_schema."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPOSITION_ROOTS = {ROOT / "backend" / "app.py", ROOT / "backend" / "cli.py"}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_analytics_engine_imports_nothing_from_the_project() -> None:
    for path in (ROOT / "analytics_engine").rglob("*.py"):
        assert not _imported_packages(path) & {"backend", "graphql_schema"}, path


def test_only_the_composition_roots_import_graphql_schema() -> None:
    for path in (ROOT / "backend").rglob("*.py"):
        if path in COMPOSITION_ROOTS:
            continue
        assert "graphql_schema" not in _imported_packages(path), path


def test_top_level_layout() -> None:
    for name in (
        "pyproject.toml",
        "README.md",
        "backend",
        "analytics_engine",
        "graphql_schema",
        "frontend_stub",
        "tests",
        "docker-compose.yml",
        "Dockerfile",
        ".ci/run",
        "docs",
    ):
        assert (ROOT / name).exists(), name
