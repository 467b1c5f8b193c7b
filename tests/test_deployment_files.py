"""docker-compose.yml and the Dockerfile stay honest (Docker itself does not run here)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from backend.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_shape() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "api", "worker"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
    assert set(compose["volumes"]) == {"postgres-data", "redis-data"}
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]


def test_compose_services_use_real_commands_and_settings() -> None:
    services = _compose()["services"]
    commands = {*COMMANDS, "serve", "migrate", "export-schema"}
    for name in ("api", "worker"):
        command = services[name]["command"]
        assert command[:3] == ["python", "-m", "backend"]
        assert command[3] in commands, f"{name}: unknown command {command}"
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert environment["REDIS_URL"].startswith("redis://redis:")
        assert environment["ENV"] == "production"
    api_environment = services["api"]["environment"]
    assert "SECRET_KEY" in api_environment and "dev-only" not in api_environment["SECRET_KEY"]


def test_dockerfile_installs_the_package_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -e ." in dockerfile  # in place: the tree in /app is what runs
    assert "gcc" in dockerfile  # analytics_engine._batch_kernel is compiled at install
    for package in ("backend", "analytics_engine", "graphql_schema", "frontend_stub/dist"):
        assert f"COPY {package} ./{package}" in dockerfile
    # the image needs no Node: the built dashboard is committed; .dockerignore keeps the rest out
    assert "frontend_stub/node_modules" in (ROOT / ".dockerignore").read_text()
    assert '"serve"' in dockerfile and "USER app" in dockerfile


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_an_spdx_expression() -> None:
    # A TOML table (`{ text = ... }`) is deprecated by setuptools 77 and refused from 2027-02-18.
    assert _pyproject()["project"]["license"] == "LicenseRef-Proprietary"


def test_setuptools_range_accepts_spdx_licenses_and_has_an_upper_bound() -> None:
    (setuptools,) = [
        Requirement(r) for r in _pyproject()["build-system"]["requires"] if "setuptools" in r
    ]
    lower = [Version(s.version) for s in setuptools.specifier if s.operator == ">="]
    upper = [Version(s.version) for s in setuptools.specifier if s.operator == "<"]
    assert lower and min(lower) >= Version("77"), "SPDX license strings need setuptools 77"
    assert upper, "a later major of setuptools must not reach the build unchecked"
    assert not setuptools.specifier.contains("74.1.0") and setuptools.specifier.contains("77.0.3")
