"""The import direction of the architecture holds: engine <- backend <- graphql_schema."""

from __future__ import annotations

import ast
import importlib
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


# -- closed domains ----------------------------------------------------------------------------

BACKEND = ROOT / "backend"
# The product's nouns. Each owns its tables and its use cases; the shared kernel (orgs, auth,
# agents, events, errors, database, ...) is theirs to use.
DOMAINS = {
    "actions",
    "alerts",
    "analytics",
    "baselines",
    "calibration",
    "coaching",
    "crm",
    "feedback",
    "outcomes",
    "policy",
    "prompts",
    "reports",
    "reviews",
    "roi",
    "signals",
}
# `strategy` composes the read sides of several domains (as `learning` composes their writes):
# it owns no table and is not one of them.
# A report's content is read as its recipient through the very services the API's resolvers
# call (dashboards, alerts, coaching, prompts), so that it shows what the API answers them: this
# one module of `reports` composes those read sides, as `strategy` does, and writes nothing.
READ_COMPOSERS = {BACKEND / "reports" / "content.py"}
CHANNELS = {"slack", "gmail", "webhooks", "notifications", "partner_webhooks"}
# Statements and calls that write the table of the model given to them.
WRITERS = {"update", "delete", "insert", "dialect_insert", "insert_rows", "update_rows_by_id"}


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "backend" and len(parts) > 1 else None


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


def _modules(node: ast.ImportFrom | ast.Import) -> list[str]:
    """The modules an import statement reads, inside functions too."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.module is None or node.level:
        return []
    # `from backend.x import service` names a module too.
    return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]


def _backend_files() -> list[Path]:
    return [p for p in BACKEND.rglob("*.py") if "migrations" not in p.parts]


def _package_of(path: Path) -> str:
    relative = path.relative_to(BACKEND)
    return relative.parts[0].removesuffix(".py")


def test_no_domain_imports_another_domains_service() -> None:
    found = []
    for path in _backend_files():
        own = _package_of(path)
        if own not in DOMAINS or path in READ_COMPOSERS:
            continue
        for node in _imports(path):
            for module in _modules(node):
                other = _package(module)
                if other in DOMAINS and other != own and module.endswith(".service"):
                    found.append(f"{path.relative_to(ROOT)} imports {module}")
    assert found == []


def test_no_domain_and_not_the_orchestration_imports_a_channel() -> None:
    found = []
    for path in _backend_files():
        own = _package_of(path)
        if own not in DOMAINS and own != "learning":
            continue
        for node in _imports(path):
            for module in _modules(node):
                if _package(module) in CHANNELS:
                    found.append(f"{path.relative_to(ROOT)} imports {module}")
    assert found == []


def _foreign_models(path: Path, own: str) -> set[str]:
    """Names of other domains' tables (mapped classes) imported by ``path``."""
    names = set()
    for node in _imports(path):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith(".models"):
            other = _package(node.module)
            if other in DOMAINS and other != own:
                module = importlib.import_module(node.module)
                names.update(
                    alias.asname or alias.name
                    for alias in node.names
                    if hasattr(getattr(module, alias.name), "__tablename__")
                )
    return names


def test_no_domain_writes_another_domains_tables() -> None:
    """Inserts, updates and deletes (and new rows) of a table stay in the domain that owns it."""
    found = []
    for path in _backend_files():
        own = _package_of(path)
        if own not in DOMAINS:
            continue
        foreign = _foreign_models(path, own)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else None
            callee = node.func.id if isinstance(node.func, ast.Name) else callee
            if callee in foreign:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} creates a {callee} row")
            elif callee in WRITERS:
                for argument in node.args:
                    if isinstance(argument, ast.Name) and argument.id in foreign:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} writes {argument.id}")
    assert found == []


def test_no_import_cycles_between_backend_packages() -> None:
    """Counting imports inside functions: a cycle hidden in a function is still a cycle."""
    edges: dict[str, set[str]] = {}
    for path in _backend_files():
        own = _package_of(path)
        for node in _imports(path):
            for module in _modules(node):
                other = _package(module)
                if (
                    other
                    and other != own
                    and (BACKEND / other).exists() | (BACKEND / f"{other}.py").exists()
                ):
                    edges.setdefault(own, set()).add(other)

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            node = stack.pop()
            for nxt in edges.get(node, ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    cycles = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and reaches(b, a))
    assert cycles == []
