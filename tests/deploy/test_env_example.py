""".env.example documents every setting, and docker-compose.yml passes every setting.

The settings are introspected (`Settings.model_fields`), never listed by hand: a setting added to
parley/core/settings.py fails here until it is documented and deployed.
"""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from parley.conversations.waiting import TeamHours
from parley.core.limits import RateLimits
from parley.core.settings import Settings
from tests.deploy import (
    ENV_EXAMPLE,
    app_env,
    env_example_sections,
    env_example_values,
    interpolated_names,
    load_compose,
    setting_aliases,
    strings,
    whole_interpolation,
)

# Settings docker-compose.yml does not pass, each with why. Everything else must be passed.
NOT_PASSED_BY_COMPOSE = {
    # Test-only: points the Twilio REST client at the tests' local stand-in.
    "PARLEY_TWILIO_API_URL",
    # Test-only: points the stripe library at the tests' Stripe stand-in.
    "PARLEY_STRIPE_API_BASE",
    # Local mode's listen port; the image's command always listens on 8000.
    "PARLEY_PORT",
    # The in-process engine reads a trained model the app image does not hold (the Rasa image
    # trains it): compose runs the Rasa engine, as SPEC §2 draws it (docs/performance.md).
    "PARLEY_BOT_ENGINE",
    "PARLEY_NLU_MODEL",
}
COMPOSE_ONLY_SECTION = "docker-compose only (not app settings)"
POSTGRES_URL = "postgresql://parley:secret@postgres:5432/parley"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting comes from the environment the tests happen to run in."""
    for alias in setting_aliases():
        monkeypatch.delenv(alias, raising=False)


def _compose_only_names() -> set[str]:
    """Variables docker-compose.yml interpolates that are not app settings."""
    compose = load_compose()
    used = set().union(*(interpolated_names(text) for text in strings(compose)))
    return used - setting_aliases()


def test_every_setting_is_in_env_example() -> None:
    missing = setting_aliases() - set(env_example_values())
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_env_example_sets_only_settings_and_compose_variables() -> None:
    sections = env_example_sections()
    unknown = set(env_example_values()) - setting_aliases()
    compose_only = _compose_only_names()
    assert not unknown - compose_only, (
        f".env.example sets {sorted(unknown - compose_only)}: neither a setting in "
        "parley/core/settings.py nor a variable docker-compose.yml interpolates"
    )
    misplaced = {name for name in unknown if sections.get(name) != COMPOSE_ONLY_SECTION}
    assert not misplaced, f"{sorted(misplaced)} belong under '# --- {COMPOSE_ONLY_SECTION}'"
    assert compose_only, "docker-compose.yml interpolates compose-only variables (a password)"


def test_every_env_example_variable_has_a_comment() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if "=" not in line or line.startswith("#"):
            continue
        above = index - 1
        while above >= 0 and "=" in lines[above] and not lines[above].startswith("#"):
            above -= 1  # variables documented together share the comment above them
        assert (
            above >= 0 and lines[above].startswith("# ") and not lines[above].startswith("# ---")
        ), f".env.example line {index + 1} ({line.split('=')[0]}) has no comment"


def test_every_setting_is_passed_by_compose_except_the_listed_ones() -> None:
    passed = set(app_env(load_compose()))
    aliases = setting_aliases()
    missing = aliases - NOT_PASSED_BY_COMPOSE - passed
    assert not missing, f"x-app-env in docker-compose.yml does not pass {sorted(missing)}"
    assert not NOT_PASSED_BY_COMPOSE & passed, "an excluded setting is passed after all"
    assert aliases >= NOT_PASSED_BY_COMPOSE, "the exclusion list names a setting that is gone"
    assert not passed - aliases, f"x-app-env passes non-settings {sorted(passed - aliases)}"


@pytest.mark.usefixtures("clean_env")
def test_env_example_values_parse_in_development() -> None:
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert settings.env == "development"
    # The values read by the code that uses them, not by Settings alone.
    for rule in (
        settings.rate_limit_login,
        settings.rate_limit_sessions,
        settings.rate_limit_verification,
    ):
        assert RateLimits.rules(rule), rule
    TeamHours.parse(settings.team_hours, settings.team_timezone)
    assert len(settings.rasa_urls) == 2


@pytest.mark.usefixtures("clean_env")
def test_production_refuses_the_env_example_placeholders() -> None:
    def production(**overrides: str) -> Settings:
        values = {"PARLEY_ENV": "production", "DATABASE_URL": POSTGRES_URL, **overrides}
        return Settings(_env_file=ENV_EXAMPLE, **values)

    with pytest.raises(ValidationError, match="PARLEY_SECRET_KEY"):
        production()
    key = secrets.token_hex(32)
    with pytest.raises(ValidationError, match="PARLEY_RASA_TOKEN"):
        production(PARLEY_SECRET_KEY=key)
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(_env_file=ENV_EXAMPLE, PARLEY_ENV="production", PARLEY_SECRET_KEY=key)
    # With real secrets in their place, the rest of the example is valid in production.
    settings = production(PARLEY_SECRET_KEY=key, PARLEY_RASA_TOKEN=secrets.token_hex(32))
    assert settings.env == "production"
    assert settings.portal_secret is None  # unset in production: portal tokens are refused


@pytest.mark.usefixtures("clean_env")
def test_compose_defaults_are_the_settings_defaults() -> None:
    """A `${VAR:-default}` in x-app-env says the same as parley/core/settings.py."""
    defaults = Settings(_env_file=None)
    by_alias = {field.alias: name for name, field in Settings.model_fields.items()}
    checked = 0
    for alias, value in app_env(load_compose()).items():
        parsed = whole_interpolation(str(value))
        if parsed is None or parsed[1] != ":-" or parsed[2] == "":
            continue
        name, _operator, default = parsed
        assert name == alias, f"x-app-env {alias} interpolates {name}"
        settings = Settings(_env_file=None, **{alias: default})
        field = by_alias[alias]
        assert getattr(settings, field) == getattr(defaults, field), (
            f"docker-compose.yml defaults {alias} to {default!r}; the settings to "
            f"{getattr(defaults, field)!r}"
        )
        checked += 1
    assert checked >= 10, "x-app-env spells out the settings' defaults"


@pytest.mark.usefixtures("clean_env")
def test_compose_requires_what_production_refuses_by_default() -> None:
    """A setting whose default production refuses is never left to its default by compose:
    it is set to a literal (DATABASE_URL) or required with `${VAR:?...}`."""
    valid = {
        "PARLEY_ENV": "production",
        "PARLEY_SECRET_KEY": secrets.token_hex(32),
        "PARLEY_RASA_TOKEN": secrets.token_hex(32),
        "DATABASE_URL": POSTGRES_URL,
    }
    Settings(_env_file=None, **valid)
    env = app_env(load_compose())
    refused = set()
    for alias in valid:
        rest = {key: value for key, value in valid.items() if key != alias}
        try:
            Settings(_env_file=None, **rest)
        except ValidationError:
            refused.add(alias)
    assert refused == {"PARLEY_SECRET_KEY", "PARLEY_RASA_TOKEN", "DATABASE_URL"}
    for alias in refused:
        value = str(env[alias])
        parsed = whole_interpolation(value)
        if parsed is not None:
            assert parsed[1] == ":?", f"{alias}: {value} may fall back to a refused default"
        else:
            assert not value.startswith("${"), f"{alias}: {value}"
