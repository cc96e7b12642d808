"""Server settings and their resolution: flag, then environment, then config.toml, then default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from server.domain.errors import ConfigError

if TYPE_CHECKING:
    from server.config.model import AppConfig

DEFAULT_CONFIG = "config.toml"
CONFIG_ENV = "HALLQ_CONFIG"
ENV_VARS: dict[str, str] = {
    "database_url": "HALLQ_DATABASE_URL",
    "broadcast_url": "HALLQ_BROADCAST_URL",
    "secret_key": "HALLQ_SECRET_KEY",
    # where browsers reach the server: pairing URLs, ticket QR codes, the /ws Origin allowed
    "public_base_url": "HALLQ_PUBLIC_BASE_URL",
}
DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
BROADCAST_SCHEMES = ("memory", "redis", "rediss")
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the server runs: where it listens, its stores, secrets and limits."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    database_url: str = "sqlite+aiosqlite:///hallq.db"
    broadcast_url: str = "memory://"
    secret_key: str | None = None
    public_base_url: str = "http://127.0.0.1:8080"
    allowed_origins: tuple[str, ...] = ()
    staff_token_ttl_h: int = 12
    idempotency_ttl_h: int = 24
    max_body_bytes: int = 65536


SETTING_NAMES = frozenset(f.name for f in fields(ServerSettings))

# (setting, what is wrong, the fix)
SettingProblem = tuple[str, str, str]


def config_path(flag: str | None, env: Mapping[str, str]) -> Path:
    """The config file: ``--config``, else ``$HALLQ_CONFIG``, else ``./config.toml``."""
    return Path(flag or env.get(CONFIG_ENV) or DEFAULT_CONFIG)


def resolve_settings(
    config: AppConfig | None,
    *,
    flags: Mapping[str, object | None],
    env: Mapping[str, str],
) -> ServerSettings:
    """Settings by precedence: flag (non-None), environment, config.toml ``[server]``, default.

    Flags that are not settings (``config``, ``command`` …) are ignored. Raises ``ConfigError``
    naming the source of each bad value.
    """
    base = config.server if config is not None else ServerSettings()
    changes: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in SETTING_NAMES:
        value, source = _override(name, flags, env)
        if source:
            changes[name] = _coerce(name, value)
            sources[name] = source
    settings = replace(base, **changes)
    config_label = f"{config.path.name}: server." if config is not None else "default "
    problems = [
        f"{sources.get(name) or config_label + name}: {what}. Fix: {fix.rstrip('.')}."
        for name, what, fix in check_settings(settings)
    ]
    if problems:
        raise ConfigError(problems)
    return settings


def _override(
    name: str, flags: Mapping[str, object | None], env: Mapping[str, str]
) -> tuple[object, str]:
    flag = flags.get(name)
    if flag is not None:
        return flag, "--" + name.replace("_", "-")
    var = ENV_VARS.get(name)
    if var and env.get(var):
        return env[var], var
    return None, ""


def _coerce(name: str, value: object) -> object:
    if name == "allowed_origins" and isinstance(value, list | tuple):
        return tuple(str(origin) for origin in value)
    return value


def check_settings(settings: ServerSettings) -> list[SettingProblem]:
    """Every problem of resolved settings as (setting, what is wrong, fix)."""
    problems = [*_check_urls(settings), *_check_numbers(settings)]
    if settings.secret_key is not None and len(settings.secret_key) < MIN_SECRET_LENGTH:
        problems.append(
            (
                "secret_key",
                f"the key is {len(settings.secret_key)} characters long; at least "
                f"{MIN_SECRET_LENGTH} are needed",
                'generate one with `python -c "import secrets; print(secrets.token_urlsafe(48))"`'
                " and pass it as HALLQ_SECRET_KEY",
            )
        )
    if settings.workers > 1 and settings.broadcast_url.startswith("memory:"):
        problems.append(
            (
                "workers",
                f"{settings.workers} workers cannot share the memory:// broadcast (screens "
                "would miss calls made by other workers)",
                'set broadcast_url = "redis://host:6379/0" or workers = 1',
            )
        )
    return problems


def _check_urls(s: ServerSettings) -> list[SettingProblem]:
    problems: list[SettingProblem] = []
    if _scheme(s.database_url) not in DATABASE_SCHEMES:
        problems.append(_scheme_problem("database_url", s.database_url, DATABASE_SCHEMES))
    if _scheme(s.broadcast_url) not in BROADCAST_SCHEMES:
        problems.append(_scheme_problem("broadcast_url", s.broadcast_url, BROADCAST_SCHEMES))
    if not _is_origin(s.public_base_url, allow_path=True):
        problems.append(_origin_problem("public_base_url", s.public_base_url))
    problems += [
        _origin_problem("allowed_origins", o) for o in s.allowed_origins if not _is_origin(o)
    ]
    return problems


def _check_numbers(s: ServerSettings) -> list[SettingProblem]:
    bounds = {
        "port": (s.port, 1, 65535),
        "workers": (s.workers, 1, 64),
        "staff_token_ttl_h": (s.staff_token_ttl_h, 1, 24 * 30),
        "idempotency_ttl_h": (s.idempotency_ttl_h, 24, 24 * 30),
        "max_body_bytes": (s.max_body_bytes, 1024, 16 * 1024 * 1024),
    }
    return [
        (name, f"{value} is out of range; expected {low} to {high}", f"set {name} = {low}..{high}")
        for name, (value, low, high) in bounds.items()
        if not low <= value <= high
    ]


def _scheme(url: str) -> str:
    return url.partition("://")[0] if "://" in url else ""


def _scheme_problem(name: str, url: str, schemes: tuple[str, ...]) -> SettingProblem:
    expected = ", ".join(f"{scheme}://" for scheme in schemes)
    return (name, f'unsupported URL "{url}"; expected one of {expected}', f"use a {expected} URL")


def _is_origin(url: str, *, allow_path: bool = False) -> bool:
    parts = urlsplit(url)
    bare = not (parts.path or parts.query or parts.fragment) or allow_path
    return parts.scheme in ("http", "https") and bool(parts.netloc) and bare


def _origin_problem(name: str, url: str) -> SettingProblem:
    return (
        name,
        f'"{url}" is not an http(s) origin',
        'write it as "https://host[:port]" with no path or trailing slash',
    )
