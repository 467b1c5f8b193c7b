"""GraphiQL works offline: the IDE page that `GET /graphql` answers loads only the GraphiQL
bundled in the dashboard's build (frontend_stub/dist/graphiql/), and neither it nor the
dashboard load anything from another origin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from backend.app import create_app
from backend.settings import load_settings

DIST = Path(__file__).resolve().parents[2] / "frontend_stub" / "dist"
EXTERNAL = re.compile(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", re.IGNORECASE)
LOADED = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.fixture
def client(sqlite_database_url: str) -> Iterator[TestClient]:
    settings = load_settings(database_url=sqlite_database_url, worker_in_process=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_ide_page_loads_only_the_bundled_graphiql(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert EXTERNAL.search(page.text) is None, "the IDE page names another origin"
    loaded = LOADED.findall(page.text)
    assert sorted(loaded) == ["/graphiql/graphiql.css", "/graphiql/graphiql.js"]
    for path in loaded:
        assert (DIST / path.removeprefix("/")).is_file(), f"{path} is not in the build"


@pytest.mark.parametrize("page", ["index.html", "graphiql/index.html"])
def test_the_built_pages_load_nothing_from_another_origin(page: str) -> None:
    html = (DIST / page).read_text()
    assert EXTERNAL.search(html) is None, f"{page} names another origin"
    for path in LOADED.findall(html):
        if path.startswith(("/assets/", "/graphiql/")):
            assert (DIST / path.removeprefix("/")).is_file(), f"{page} loads {path}, not built"


def test_the_bundles_import_nothing_from_another_origin() -> None:
    remote_import = re.compile(r"""(?:\bimport\s*\(?|\bfrom)\s*["']https?://""")
    for script in sorted(DIST.rglob("*.js")):
        assert remote_import.search(script.read_text()) is None, f"{script} imports a URL"
    for sheet in sorted(DIST.rglob("*.css")):
        assert (
            re.search(r"""@import\s+(?:url\()?["']?https?:|url\(["']?https?:""", sheet.read_text())
            is None
        ), sheet
