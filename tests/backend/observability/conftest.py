"""Fixtures of the observability tests: the real app on a real database, and the samples of
its `/metrics` page read with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import create_engine
from backend.settings import Settings, load_settings
from tests.conftest import empty_database
from tests.factories import TestClock
from tests.graphql_schema.conftest import api  # noqa: F401  (the real app with its small world)


@dataclass
class Served:
    client: TestClient
    settings: Settings
    clock: TestClock


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition page, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    page: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str, /, **labels: str
) -> float:
    """One sample's value; 0 when the series does not exist yet (a counter never moved)."""
    return page.get((metric, frozenset(labels.items())), 0.0)


def scrape(
    client: TestClient, **headers: str
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    settings = load_settings(database_url=database_url, worker_in_process=False)
    clock = TestClock()
    try:
        with TestClient(create_app(settings, clock=clock)) as client:
            yield Served(client, settings, clock)
    finally:
        asyncio.run(_empty(database_url))


async def _empty(url: str) -> None:
    engine = create_engine(url)
    try:
        await empty_database(engine)
    finally:
        await engine.dispose()
