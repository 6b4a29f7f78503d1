"""The deployment files (docker-compose.yml, docker/Caddyfile, .env.example), checked by reading
them: there is no Docker engine on a developer's machine or CI. Helpers shared by the modules."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

from parley.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
CADDYFILE = ROOT / "docker" / "Caddyfile"

# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME:+other}`, `$NAME`
# (Compose Specification, "Interpolation"); `$$` is a literal dollar sign.
_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_BARE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# One whole value that is a single interpolation: (name, operator, argument).
_WHOLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?\}$", re.DOTALL)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$", re.DOTALL)


class MissingVariable(ValueError):
    """A `${NAME:?message}` (or `${NAME?message}`) whose variable is unset."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`text` with its variables replaced as Compose does (nested defaults included)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            out.append(text[i])
            i += 1
            continue
        following = text[i + 1 : i + 2]
        if following == "$":
            out.append("$")
            i += 2
        elif following == "{":
            depth, end = 0, i + 1
            for end in range(i + 1, len(text)):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                if depth == 0:
                    break
            else:
                raise ValueError(f"unclosed ${{ in {text!r}")
            out.append(_substitute(text[i + 2 : end], env, text))
            i = end + 1
        elif (name := _NAME.match(text, i + 1)) is not None:
            out.append(env.get(name[0], ""))
            i = name.end()
        else:
            out.append("$")
            i += 1
    return "".join(out)


def _substitute(body: str, env: Mapping[str, str], text: str) -> str:
    match = _BODY.match(body)
    if match is None:
        raise ValueError(f"invalid interpolation ${{{body}}} in {text!r}")
    name, operator, argument = match[1], match[2] or "", match[3] or ""
    value = env.get(name)
    present = value is not None if operator in ("-", "?", "+") else bool(value)
    if operator in (":?", "?") and not present:
        raise MissingVariable(name, argument)
    if operator in (":-", "-"):
        return value if present and value is not None else interpolate(argument, env)
    if operator in (":+", "+"):
        return interpolate(argument, env) if present else ""
    return value or ""


def interpolate_tree(node: object, env: Mapping[str, str]) -> object:
    """A copy of a YAML tree with every string value interpolated."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env) for value in node]
    return node


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as Compose reads it before interpolation (YAML merge keys resolved)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


def strings(node: object) -> Iterator[str]:
    """Every string value in a YAML tree (mapping keys are never interpolated)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def interpolated_names(text: str) -> set[str]:
    """The variables one value interpolates, nested defaults included."""
    text = text.replace("$$", "")
    return set(_BRACED.findall(text)) | set(_BARE.findall(text))


def whole_interpolation(text: str) -> tuple[str, str, str] | None:
    """(name, operator, argument) when `text` is exactly one `${...}`, else None."""
    match = _WHOLE.match(text)
    if match is None:
        return None
    return match[1], match[2] or "", match[3] or ""


def setting_aliases() -> set[str]:
    """Every environment variable the app reads: the aliases of Settings' fields."""
    aliases = {field.alias for field in Settings.model_fields.values()}
    assert None not in aliases, "every Settings field has an alias (its environment variable)"
    return {alias for alias in aliases if alias is not None}


def env_example_values(path: Path = ENV_EXAMPLE) -> dict[str, str | None]:
    """The variables .env.example sets, parsed as pydantic-settings parses a `.env`."""
    return dict(dotenv_values(path))


def env_example_sections(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """Which `# --- section` each variable of .env.example is written under."""
    section = ""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ---"):
            section = line.strip("# -").strip()
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
            found[line.split("=", 1)[0]] = section
    return found


def env_example_comments(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """The comment written above each variable of .env.example (shared by consecutive ones)."""
    comment: list[str] = []
    found: dict[str, str] = {}
    previous_was_variable = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ---") or not line.strip():
            comment, previous_was_variable = [], False
        elif line.startswith("#"):
            if previous_was_variable:
                comment = []
            comment.append(line.lstrip("# "))
            previous_was_variable = False
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
            found[line.split("=", 1)[0]] = " ".join(comment)
            previous_was_variable = True
    return found


def app_env(compose: dict[str, Any]) -> dict[str, Any]:
    """The shared application environment (the `x-app-env` anchor)."""
    env = compose.get("x-app-env")
    assert isinstance(env, dict), "docker-compose.yml has no x-app-env mapping"
    return env
