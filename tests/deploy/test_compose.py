"""docker-compose.yml (the production deployment), checked by reading it: there is no Docker engine
here, so it must be right by its schema and by the rules below.

The schema is the Compose Specification's own JSON schema, vendored as compose-spec.json (no
network at test time; do not edit it, replace it):
  source:  PyPI package check-jsonschema 0.39.0 (the wheel), file
           check_jsonschema/builtin_schemas/vendor/compose-spec.json, which check-jsonschema
           vendors from compose-spec/compose-spec, schema/compose-spec.json
  sha256:  d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64
  license: Apache License 2.0, the Compose Specification authors
  draft:   JSON Schema 2020-12 ("$schema"), validated with jsonschema's matching validator.

Each structural rule is a function returning its problems; `test_rules_catch_broken_copies`
shows every one of them failing on a deliberately broken copy of the file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest

from api.routes import health
from parley.conversations.waiting import TeamHours
from parley.core.limits import RateLimits
from parley.core.settings import Settings
from tests.deploy import (
    CADDYFILE,
    ROOT,
    MissingVariable,
    app_env,
    env_example_comments,
    env_example_sections,
    env_example_values,
    interpolate_tree,
    interpolated_names,
    load_compose,
    setting_aliases,
    strings,
    whole_interpolation,
)

SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
PUBLIC_SERVICE = "proxy"
APP_IMAGE = "parley-app"
# An environment variable or option holding one of these is a secret: never a literal.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|AUTH|_KEY$", re.IGNORECASE)
SECRET_OPTION = re.compile(r"^--.*(password|secret|token|key)", re.IGNORECASE)
URL_PASSWORD = re.compile(r"://[^/:@\s]+:(.+?)@")

# What compose refuses to start without (`${VAR:?message}`): the secrets, and what debtors are
# shown or where they come from, which have no sensible default in production.
REQUIRED_BY_COMPOSE = {
    "POSTGRES_PASSWORD",
    "PARLEY_SECRET_KEY",
    "PARLEY_RASA_TOKEN",
    "PARLEY_PUBLIC_URL",
    "PARLEY_COMPANY_NAME",
    "PARLEY_COMPANY_CONTACT",
    "PARLEY_WIDGET_ORIGINS",
}
# What an operator puts in `.env` for those (the secrets are drawn at random).
OPERATOR_VALUES = {
    "PARLEY_PUBLIC_URL": "https://chat.example.com",
    "PARLEY_COMPANY_NAME": "Example Recovery LLC",
    "PARLEY_COMPANY_CONTACT": "help@example.com or 1-800-555-0199",
    "PARLEY_WIDGET_ORIGINS": "https://portal.example.com",
}

Compose = dict[str, Any]


def _services(compose: Compose) -> dict[str, dict[str, Any]]:
    services = compose.get("services")
    assert isinstance(services, dict) and services, "docker-compose.yml has no services"
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["NAME=value", ...]
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def _depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def _bind_sources(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of the service's bind mounts."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, _, rest = str(volume).partition(":")
        if source.startswith((".", "/", "~")):
            mounts.append((source, rest.split(":")[0]))
    return mounts


def _is_secret_interpolation(value: str) -> bool:
    """`${NAME:?message}`, or `${NAME}` / `${NAME:-}` with no default to fall back to."""
    parsed = whole_interpolation(value)
    return parsed is not None and (parsed[1] in ("", ":?", "?") or parsed[2] == "")


# --- the rules -------------------------------------------------------------------------------


def problems_depends_on(compose: Compose) -> list[str]:
    services = _services(compose)
    problems = []
    for name, service in services.items():
        for dep, options in _depends_on(service).items():
            if dep not in services:
                problems.append(f"{name} depends on unknown service {dep}")
            elif options.get("condition") == "service_healthy" and not services[dep].get(
                "healthcheck"
            ):
                problems.append(f"{name} waits for {dep} to be healthy; {dep} has no healthcheck")
    return problems


def problems_secrets(compose: Compose) -> list[str]:
    problems = []
    for name, service in _services(compose).items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key) and not _is_secret_interpolation(value):
                problems.append(f"{name}: {key} is not taken from ${{...}} without a default")
        command = _command(service)
        for option, value in zip(command, command[1:], strict=False):
            if SECRET_OPTION.search(option) and not _is_secret_interpolation(value):
                problems.append(f"{name}: {option} {value} is a literal secret")
    for text in strings(compose):
        for password in URL_PASSWORD.findall(text):
            if not _is_secret_interpolation(password):
                problems.append(f"literal password in {text}")
    return problems


def problems_ports(compose: Compose) -> list[str]:
    problems = []
    for name, service in _services(compose).items():
        if name != PUBLIC_SERVICE and service.get("ports"):
            problems.append(f"{name} publishes ports; only {PUBLIC_SERVICE} may")
        if str(service.get("network_mode", "")) == "host":
            problems.append(f"{name} uses the host's network")
    if not _services(compose).get(PUBLIC_SERVICE, {}).get("ports"):
        problems.append(f"{PUBLIC_SERVICE} publishes no ports")
    return problems


def problems_rasa_urls(compose: Compose) -> list[str]:
    services = _services(compose)
    rasa = {name for name in services if name.startswith("rasa-")}
    urls = str(app_env(compose).get("PARLEY_RASA_URL", "")).split(",")
    listed = [url.strip().removeprefix("http://").rstrip("/") for url in urls if url.strip()]
    problems = []
    if sorted(listed) != sorted(f"{name}:5005" for name in rasa) or len(rasa) < 2:
        problems.append(f"PARLEY_RASA_URL lists {listed}; the rasa services are {sorted(rasa)}")
    if "rasa" in services or any("replicas" in (s.get("deploy") or {}) for s in services.values()):
        problems.append("Rasa and the API run as named services, never as replicas")
    for name in rasa:
        command = _command(services[name])
        for option, value in (
            ("--port", "5005"),
            ("--endpoints", "bot/endpoints.production.yml"),
        ):
            if option not in command or command[command.index(option) + 1] != value:
                problems.append(f"{name}: command lacks {option} {value}")
        if "--enable-api" not in command or "--auth-token" not in command:
            problems.append(f"{name}: Rasa's HTTP API must be on and token-protected")
        elif interpolated_names(command[command.index("--auth-token") + 1]) != {
            "PARLEY_RASA_TOKEN"
        }:
            problems.append(f"{name}: --auth-token is not ${{PARLEY_RASA_TOKEN}}")
        if _environment(services[name]).get("PYTHONPATH") != "/srv/bot":
            problems.append(f"{name}: PYTHONPATH is not /srv/bot (the bot/ package)")
    return problems


def problems_api_upstreams(compose: Compose) -> list[str]:
    services = _services(compose)
    api = {name for name in services if name.startswith("api-")}
    proxy_env = _environment(services.get(PUBLIC_SERVICE, {}))
    listed = proxy_env.get("PARLEY_API_UPSTREAMS", "").split()
    problems = []
    if sorted(listed) != sorted(f"{name}:8000" for name in api) or len(api) < 2:
        problems.append(f"PARLEY_API_UPSTREAMS lists {listed}; the api services are {sorted(api)}")
    waits_for = set(_depends_on(services.get(PUBLIC_SERVICE, {})))
    if not api <= waits_for:
        problems.append(f"{PUBLIC_SERVICE} does not wait for {sorted(api - waits_for)}")
    caddy = CADDYFILE.read_text(encoding="utf-8")
    default = re.search(r"\{\$PARLEY_API_UPSTREAMS:([^}]*)\}", caddy)
    if default is None or default[1].split() != listed:
        problems.append("docker/Caddyfile's default upstreams differ from PARLEY_API_UPSTREAMS")
    return problems


def problems_app_services(compose: Compose) -> list[str]:
    """Every app container gets the whole app env; only the worker runs the timed jobs."""
    services = _services(compose)
    env = app_env(compose)
    problems = []
    app_services = {n for n, s in services.items() if s.get("image") == APP_IMAGE}
    for name in sorted(app_services):
        got = _environment(services[name])
        missing = set(env) - set(got)
        if missing:
            problems.append(f"{name} lacks {sorted(missing)} of x-app-env")
        jobs = got.get("PARLEY_JOBS_INTERVAL_SECONDS", "")
        runs_jobs = jobs != "0"
        if name.startswith("api-") and runs_jobs:
            problems.append(f"{name} runs the timed jobs (PARLEY_JOBS_INTERVAL_SECONDS {jobs})")
        if name == "worker" and not runs_jobs:
            problems.append("the worker does not run the timed jobs")
    worker = services.get("worker", {})
    if _command(worker) != ["parley", "worker"] or worker.get("restart") != "unless-stopped":
        problems.append("worker: runs `parley worker`, restart unless-stopped")
    if _depends_on(worker).get("migrate", {}).get("condition") != (
        "service_completed_successfully"
    ):
        problems.append("worker: waits for migrate to complete")
    if not {"migrate", "actions", "worker", "api-1", "api-2"} <= app_services:
        problems.append(f"the app services are {sorted(app_services)}")
    return problems


def problems_mounts(compose: Compose) -> list[str]:
    """Bind mounts, env files and Dockerfiles exist; the policies file is inside its mount."""
    problems = []
    mounted = set()
    for name, service in _services(compose).items():
        for source, target in _bind_sources(service):
            mounted.add(source)
            if not (ROOT / source).exists():
                problems.append(f"{name} mounts {source}, which is not in the repository")
            if target == "/srv/parley/config":
                policies = PurePosixPath(_environment(service).get("PARLEY_POLICIES", ""))
                inside = policies.relative_to(target) if policies.is_relative_to(target) else None
                if inside is None or not (ROOT / source / inside).is_file():
                    problems.append(f"{name}: PARLEY_POLICIES {policies} is not in {source}")
        env_files = service.get("env_file") or []
        for entry in [env_files] if isinstance(env_files, (str, dict)) else env_files:
            path = entry["path"] if isinstance(entry, dict) else entry
            required = entry.get("required", True) if isinstance(entry, dict) else True
            if required and not (ROOT / path).is_file():
                problems.append(f"{name}: env_file {path} does not exist")
        build = service.get("build")
        if build is not None:
            build = {"context": build} if isinstance(build, str) else build
            context = ROOT / build.get("context", ".")
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                problems.append(f"{name}: Dockerfile {dockerfile.relative_to(ROOT)} does not exist")
    for needed in ("./config", "./docker/Caddyfile", "./docker/postgres-init.sql"):
        if needed not in mounted:
            problems.append(f"{needed} is not mounted")
    return problems


def problems_interpolation(compose: Compose) -> list[str]:
    """Every `${VAR}` is a setting or a compose-only variable documented in .env.example."""
    documented = set(env_example_values())
    sections = env_example_sections()
    aliases = setting_aliases()
    problems = []
    used = set().union(*(interpolated_names(text) for text in strings(compose)))
    for name in sorted(used - documented):
        problems.append(f"docker-compose.yml interpolates {name}, which .env.example lacks")
    for name in sorted(used - aliases):
        if not sections.get(name, "").startswith("docker-compose only"):
            problems.append(f"{name} is not under .env.example's docker-compose only section")
    return problems


RULES: dict[str, Callable[[Compose], list[str]]] = {
    "depends_on": problems_depends_on,
    "secrets": problems_secrets,
    "ports": problems_ports,
    "rasa_urls": problems_rasa_urls,
    "api_upstreams": problems_api_upstreams,
    "app_services": problems_app_services,
    "mounts": problems_mounts,
    "interpolation": problems_interpolation,
}


# --- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    raw = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, (
        "compose-spec.json changed: replace it from its source and update the provenance"
    )
    return json.loads(raw)


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema)
    assert cls is jsonschema.Draft202012Validator
    cls.check_schema(schema)
    return cls(schema)


def _schema_errors(validator: jsonschema.protocols.Validator, compose: Compose) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(compose)
    ]


def test_compose_file_matches_the_compose_specification(
    validator: jsonschema.protocols.Validator,
) -> None:
    assert _schema_errors(validator, load_compose()) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c["services"]["api-1"].update(dependson=["migrate"]),  # a misspelt key
        lambda c: c["services"]["redis"].update(restart=["always"]),
        lambda c: c["services"]["proxy"].update(ports=80),
        lambda c: c.update(service={}),
    ],
    ids=["unknown-key", "wrong-type", "ports-not-a-list", "unknown-top-level-key"],
)
def test_schema_catches_broken_copies(
    validator: jsonschema.protocols.Validator, breakage: Callable[[Compose], None]
) -> None:
    compose = copy.deepcopy(load_compose())
    breakage(compose)
    assert _schema_errors(validator, compose)


@pytest.mark.parametrize("rule", list(RULES))
def test_compose_file_follows_the_rule(rule: str) -> None:
    assert RULES[rule](load_compose()) == []


def _env(compose: Compose, service: str) -> dict[str, Any]:
    return compose["services"][service]["environment"]


BREAKAGES: list[tuple[str, Callable[[Compose], None]]] = [
    ("depends_on", lambda c: c["services"]["proxy"]["depends_on"].update(api={})),
    (
        "depends_on",
        lambda c: c["services"]["worker"]["depends_on"].update(
            migrate={"condition": "service_healthy"}
        ),
    ),
    ("secrets", lambda c: _env(c, "postgres").update(POSTGRES_PASSWORD="hunter2")),
    ("secrets", lambda c: _env(c, "postgres").update(POSTGRES_PASSWORD="${PW:-hunter2}")),
    ("secrets", lambda c: c["x-app-env"].update(DATABASE_URL="postgresql://u:pw@db/parley")),
    ("secrets", lambda c: c["services"]["rasa-1"].update(command=["rasa", "--auth-token", "x"])),
    ("ports", lambda c: c["services"]["rasa-0"].update(ports=["5005:5005"])),
    ("ports", lambda c: c["services"]["api-1"].update(network_mode="host")),
    ("rasa_urls", lambda c: c["x-app-env"].update(PARLEY_RASA_URL="http://rasa-0:5005")),
    ("rasa_urls", lambda c: c["services"].update({"rasa-2": c["services"]["rasa-1"]})),
    ("rasa_urls", lambda c: c["services"]["rasa-0"].update(command=["rasa", "run"])),
    ("api_upstreams", lambda c: _env(c, "proxy").update(PARLEY_API_UPSTREAMS="api-1:8000")),
    ("api_upstreams", lambda c: c["services"].update({"api-3": c["services"]["api-2"]})),
    ("app_services", lambda c: c["services"]["api-2"].update(environment={"PARLEY_ENV": "x"})),
    ("app_services", lambda c: c["services"]["worker"].update(command=["parley", "db"])),
    ("mounts", lambda c: c["services"]["proxy"]["volumes"].append("./docker/nginx.conf:/x:ro")),
    ("mounts", lambda c: c["services"]["migrate"]["build"].update(dockerfile="docker/x")),
    ("mounts", lambda c: c["services"]["worker"].update(env_file=["./deploy.env"])),
    ("mounts", lambda c: _env(c, "worker").update(PARLEY_POLICIES="/srv/parley/config/x.yml")),
    ("interpolation", lambda c: c["x-app-env"].update(PARLEY_ENV="${PARLEY_MODE:-production}")),
    ("interpolation", lambda c: _env(c, "proxy").update(PARLEY_DOMAIN="${DOMAIN:-localhost}")),
]


@pytest.mark.parametrize(
    ("rule", "breakage"), BREAKAGES, ids=[f"{rule}-{i}" for i, (rule, _) in enumerate(BREAKAGES)]
)
def test_rules_catch_broken_copies(rule: str, breakage: Callable[[Compose], None]) -> None:
    compose = copy.deepcopy(load_compose())
    breakage(compose)
    assert RULES[rule](compose), f"rule {rule} passed a broken copy"


def test_every_rule_has_a_broken_copy() -> None:
    assert {rule for rule, _ in BREAKAGES} == set(RULES)


def test_caddyfile_matches_the_proxy_service() -> None:
    """The Caddyfile's placeholders are set on the proxy, with the same defaults; it leaves the
    Content-Security-Policy to the app (which sets one per page) and checks a real route."""
    compose = load_compose()
    proxy = _environment(compose["services"][PUBLIC_SERVICE])
    caddy = CADDYFILE.read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in caddy.splitlines())
    placeholders = dict(re.findall(r"\{\$([A-Za-z_][A-Za-z0-9_]*):?([^}]*)\}", code))
    assert set(placeholders) == {"PARLEY_DOMAIN", "PARLEY_API_UPSTREAMS"}
    assert set(placeholders) <= set(proxy)
    domain = whole_interpolation(proxy["PARLEY_DOMAIN"])
    assert domain is not None and domain[2] == placeholders["PARLEY_DOMAIN"]
    assert "Content-Security-Policy" not in code
    assert "lb_policy round_robin" in code
    # The proxy health-checks a route the app has.
    health_uri = re.search(r"^\s*health_uri\s+(\S+)", code, re.MULTILINE)
    assert health_uri is not None
    assert health_uri[1] in {getattr(route, "path", None) for route in health.router.routes}


def _required(compose: Compose) -> set[str]:
    return {
        name
        for text in strings(compose)
        for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", text.replace("$$", ""))
    }


def test_compose_requires_the_operator_settings() -> None:
    compose = load_compose()
    assert _required(compose) == REQUIRED_BY_COMPOSE
    with pytest.raises(MissingVariable):
        interpolate_tree(compose, {})


def _example_env_filled_in() -> dict[str, str]:
    """.env.example as an operator completes it: every compose-required variable set."""
    env = {key: value for key, value in env_example_values().items() if value is not None}
    for name in REQUIRED_BY_COMPOSE:
        env[name] = OPERATOR_VALUES.get(name) or secrets.token_hex(32)
    return env


def test_env_example_leaves_what_compose_requires_empty_and_says_so() -> None:
    values = env_example_values()
    comments = env_example_comments()
    for name in sorted(REQUIRED_BY_COMPOSE):
        assert not values.get(name), f".env.example fills {name}: compose would not refuse it"
        assert "by docker-compose" in comments.get(name, ""), f"{name}'s comment: REQUIRED?"
    for name, comment in comments.items():
        if "by docker-compose" in comment:
            assert name in REQUIRED_BY_COMPOSE, f"{name} is said to be required by compose"


@pytest.mark.parametrize("name", sorted(REQUIRED_BY_COMPOSE))
def test_compose_refuses_to_start_without(name: str) -> None:
    env = _example_env_filled_in() | {name: ""}
    with pytest.raises(MissingVariable) as refused:
        interpolate_tree(load_compose(), env)
    assert refused.value.name == name


def test_rendered_compose_file_is_valid_and_its_app_env_starts_in_production(
    validator: jsonschema.protocols.Validator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`.env.example` as an operator fills it in, interpolated as compose does: the result
    still matches the schema, and every app container's environment is accepted by the
    production settings (and by the code that reads the rate limits and team hours)."""
    for alias in setting_aliases():
        monkeypatch.delenv(alias, raising=False)
    env = _example_env_filled_in()
    rendered = interpolate_tree(load_compose(), env)
    assert isinstance(rendered, dict)
    assert _schema_errors(validator, rendered) == []
    services = _services(rendered)
    app_services = [name for name, service in services.items() if service.get("image") == APP_IMAGE]
    assert len(app_services) >= 5
    for name in app_services:
        # Through the environment, as in the container (empty values mean "the default").
        with monkeypatch.context() as container:
            for key, value in _environment(services[name]).items():
                container.setenv(key, value)
            settings = Settings(_env_file=None)
        assert settings.env == "production", name
        assert env["POSTGRES_PASSWORD"] in settings.database_url
        assert settings.rasa_token == env["PARLEY_RASA_TOKEN"]
        assert settings.rasa_urls == ["http://rasa-0:5005", "http://rasa-1:5005"]
        assert settings.redis_url == "redis://redis:6379/0"
        assert settings.public_url == OPERATOR_VALUES["PARLEY_PUBLIC_URL"]
        assert settings.portal_secret is None
        assert str(settings.policies_path) == "/srv/parley/config/policies.yml"
        for rule in (
            settings.rate_limit_login,
            settings.rate_limit_sessions,
            settings.rate_limit_verification,
        ):
            assert RateLimits.rules(rule)
        TeamHours.parse(settings.team_hours, settings.team_timezone)
    for name in ("rasa-0", "rasa-1"):
        command = _command(services[name])
        assert command[command.index("--auth-token") + 1] == env["PARLEY_RASA_TOKEN"]
        assert _environment(services[name])["RASA_DB_PASSWORD"] == env["POSTGRES_PASSWORD"]
