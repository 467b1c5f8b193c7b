"""The deployment files stay honest (Docker itself does not run here): docker-compose.yml, the
load balancer's nginx.conf, .env.example, the Dockerfile, pyproject.toml and constraints.txt."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from backend.cli import COMMANDS
from backend.settings import Settings
from backend.worker import beat

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


APP_SERVICES = ("migrate", "api", "worker")


def test_compose_has_the_production_shape() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker", "lb"}
    for name, service in services.items():
        if name != "migrate":  # a one-shot: it exits when done
            assert "healthcheck" in service and "disable" not in service["healthcheck"], name
            assert service["restart"] == "unless-stopped", f"{name} is not restarted"
    assert services["migrate"]["restart"] == "no"
    assert set(compose["volumes"]) == {"postgres-data", "redis-data"}
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]


def test_compose_services_use_real_commands_and_settings() -> None:
    services = _compose()["services"]
    commands = {*COMMANDS, "serve", "migrate", "export-schema"}
    for name in APP_SERVICES:
        command = services[name]["command"]
        assert command[:3] == ["python", "-m", "backend"]
        assert command[3] in commands, f"{name}: unknown command {command}"
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert environment["REDIS_URL"].startswith("redis://redis:")
        assert environment["ENV"] == "production"
        assert "SECRET_KEY" in environment and "dev-only" not in environment["SECRET_KEY"]
        assert services[name]["env_file"] == ".env", f"{name}: settings do not reach it"
    assert services["migrate"]["command"][3] == "migrate"


def test_compose_hard_codes_no_password() -> None:
    services = _compose()["services"]
    required = "${POSTGRES_PASSWORD:?"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(required)
    for name in APP_SERVICES:
        url = services[name]["environment"]["DATABASE_URL"]
        assert f":{required}" in url and url.count("@") == 1, url
        assert services[name]["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_the_api_and_workers_start_after_the_migration() -> None:
    services = _compose()["services"]
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_the_api_scales_behind_the_load_balancer() -> None:
    services = _compose()["services"]
    assert "ports" not in services["api"], "a fixed host port prevents --scale api=N"
    assert services["api"]["expose"] == ["8000"]
    lb = services["lb"]
    assert lb["image"].startswith("nginx:")
    assert lb["ports"] == ["${HTTP_PORT:-8000}:80"]
    assert lb["depends_on"] == {"api": {"condition": "service_healthy"}}
    (mount,) = lb["volumes"]
    source, target, mode = mount.split(":")
    assert (ROOT / source).is_file() and target == "/etc/nginx/conf.d/default.conf"
    assert mode == "ro"


def _nginx(text: str) -> list:
    """nginx's configuration as nested [name, args, children] (children None for a directive)."""
    text = re.sub(r"#[^\n]*", "", text)
    tokens = re.findall(r'"[^"]*"|[{};]|[^\s{};]+', text)
    stack: list[list] = [[]]
    words: list[str] = []
    for token in tokens:
        if token == ";":
            stack[-1].append([words[0], words[1:], None])
            words = []
        elif token == "{":
            block = [words[0], words[1:], []]
            stack[-1].append(block)
            stack.append(block[2])
            words = []
        elif token == "}":
            assert not words, f"nginx.conf: unterminated directive {words}"
            stack.pop()
        else:
            words.append(token)
    assert len(stack) == 1 and not words, "nginx.conf: unbalanced braces"
    return stack[0]


def _directives(block: list, name: str) -> list[list[str]]:
    return [args for directive, args, _ in block if directive == name]


def _block(block: list, name: str, *args: str) -> list:
    (children,) = [c for d, a, c in block if d == name and tuple(a) == args and c is not None]
    return children


def test_the_load_balancer_round_robins_over_the_replicas_and_carries_websockets() -> None:
    config = _nginx((ROOT / "deploy" / "nginx.conf").read_text())
    # Docker's DNS, asked again as replicas come and go.
    assert _directives(config, "resolver")[0][0] == "127.0.0.11"
    upstream = _block(config, "upstream", "api")
    assert _directives(upstream, "server") == [["api:8000", "resolve"]]
    assert _directives(upstream, "zone")  # `resolve` needs a shared zone
    upgrade = _block(config, "map", "$http_upgrade", "$connection_upgrade")
    assert ["upgrade"] in _directives(upgrade, "default")
    server = _block(config, "server")
    assert _directives(server, "listen") == [["80"]]
    assert _directives(server, "proxy_http_version") == [["1.1"]]
    headers = {args[0]: args[1] for args in _directives(server, "proxy_set_header")}
    assert headers["Upgrade"] == "$http_upgrade"
    assert headers["Connection"] == "$connection_upgrade"
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    graphql = _block(server, "location", "=", "/graphql")
    assert _directives(graphql, "proxy_pass") == [["http://api"]]
    # A location with its own proxy_set_header would drop the server's (Upgrade among them).
    assert not _directives(graphql, "proxy_set_header")
    assert _directives(_block(server, "location", "/"), "proxy_pass") == [["http://api"]]


def _run_worker_health_check(heartbeat: Path) -> int:
    worker = _compose()["services"]["worker"]
    test = worker["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    environment = {**os.environ, "WORKER_HEARTBEAT_FILE": str(heartbeat)}
    return subprocess.run([sys.executable, "-c", test[3]], env=environment).returncode


def test_the_worker_health_check_reads_the_heartbeat(tmp_path: Path) -> None:
    worker = _compose()["services"]["worker"]
    assert worker["environment"]["WORKER_HEARTBEAT_FILE"].startswith("/tmp/")
    heartbeat = tmp_path / "worker.heartbeat"
    assert _run_worker_health_check(heartbeat) != 0  # no heartbeat yet
    beat(str(heartbeat), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))  # written now, whatever it says
    assert _run_worker_health_check(heartbeat) == 0
    os.utime(heartbeat, (0, 0))  # last written in 1970: the loop is stuck
    assert _run_worker_health_check(heartbeat) == 1


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep and name == name.strip().upper(), f".env.example: {line!r}"
            values[name] = value
    return values


def test_env_example_documents_every_required_variable_and_only_real_settings() -> None:
    example = _env_example()
    compose_text = (ROOT / "docker-compose.yml").read_text()
    compose_variables = set(re.findall(r"\$\{([A-Z_]+)", compose_text))
    required = set(re.findall(r"\$\{([A-Z_]+):\?", compose_text))
    assert required == {"POSTGRES_PASSWORD", "SECRET_KEY"}
    assert required <= set(example)
    settings = {name.upper() for name in Settings.model_fields}
    for name in example:
        assert name in settings or name in compose_variables, f".env.example: unknown {name}"
    # Set by docker-compose.yml itself: an .env value would be overridden, so none is offered.
    assert not {"ENV", "DATABASE_URL", "REDIS_URL"} & set(example)


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
    extras = project["optional-dependencies"]
    for text in [*project["dependencies"], *extras["dev"], *extras["otel"]]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == canonicalize_name(project["name"]):  # dev takes the otel extra by name
            continue
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
