"""docker-compose.yml and the Dockerfile stay honest (Docker itself does not run here)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
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
    # A regular install (site-packages), not an editable one, with the pinned versions.
    assert "pip install -c constraints.txt ." in dockerfile
    assert "pip install -e" not in dockerfile
    assert "COPY constraints.txt " in dockerfile
    assert "gcc" in dockerfile  # analytics_engine._batch_kernel is compiled at install
    assert 'python -c "import analytics_engine._batch_kernel"' in dockerfile
    for package in ("backend", "analytics_engine", "graphql_schema"):
        assert f"COPY {package} ./{package}" in dockerfile
    # The app serves frontend_stub/dist from beside its installed `backend` package.
    assert (
        "COPY frontend_stub/dist /opt/venv/lib/python3.11/site-packages/frontend_stub/dist"
        in dockerfile
    )
    assert "FROM python:3.11-slim" in dockerfile
    # the image needs no Node: the built dashboard is committed; .dockerignore keeps the rest out
    assert "frontend_stub/node_modules" in (ROOT / ".dockerignore").read_text()
    assert '"serve"' in dockerfile and "USER app" in dockerfile


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    return pins


def test_constraints_pin_every_requirement_within_its_range() -> None:
    project = _pyproject()["project"]
    pins = _pins()
    for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, (
            f"constraints.txt has no pin for {requirement.name}: regenerate it (see its header)"
        )
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject.toml's {requirement}"
        )


def test_ci_and_the_readme_install_with_the_constraints() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/pip install -q -c constraints.txt -e '.[dev]'" in ci
    readme = (ROOT / "README.md").read_text()
    commands = [line.strip() for line in readme.splitlines() if "python3 -m venv .venv" in line]
    assert len(commands) == 2, commands
    assert all(" -c constraints.txt " in command for command in commands)


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
