"""Settings resolution: flag, then environment, then config.toml [server], then default."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import AppConfig, ServerSettings, config_path, load_config, resolve_settings
from server.domain.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "config.toml"
FILE_DB = "postgresql+asyncpg://file@db/hallq"
ENV_DB = "postgresql+asyncpg://env@db/hallq"
FLAG_DB = "postgresql+asyncpg://flag@db/hallq"


@pytest.fixture
def config(tmp_path: Path) -> AppConfig:
    """The shipped config with database_url and port changed in its [server] table."""
    text = SHIPPED.read_text(encoding="utf-8")
    text = text.replace(
        'database_url = "sqlite+aiosqlite:///hallq.db"', f'database_url = "{FILE_DB}"'
    )
    path = tmp_path / "config.toml"
    path.write_text(text.replace("port = 8080", "port = 9000", 1), encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(
    ("flag", "env", "use_config", "expected"),
    [
        (FLAG_DB, ENV_DB, True, FLAG_DB),
        (None, ENV_DB, True, ENV_DB),
        (None, "", True, FILE_DB),
        (None, None, True, FILE_DB),
        (None, None, False, "sqlite+aiosqlite:///hallq.db"),
        (FLAG_DB, None, False, FLAG_DB),
        (None, ENV_DB, False, ENV_DB),
    ],
    ids=[
        "flag>env",
        "env>file",
        "empty-env-ignored",
        "file",
        "default",
        "flag-no-file",
        "env-no-file",
    ],
)
def test_precedence(config, flag, env, use_config, expected) -> None:
    """The first source that sets database_url wins: flag, env, config.toml, default."""
    environ = {"HALLQ_DATABASE_URL": env} if env is not None else {}
    settings = resolve_settings(
        config if use_config else None, flags={"database_url": flag}, env=environ
    )
    assert settings.database_url == expected


def test_each_env_var(config) -> None:
    """HALLQ_BROADCAST_URL and HALLQ_SECRET_KEY are read; other keys come from the file."""
    env = {"HALLQ_BROADCAST_URL": "redis://r:6379/0", "HALLQ_SECRET_KEY": "k" * 40}
    settings = resolve_settings(config, flags={"port": None, "workers": 3}, env=env)
    assert (settings.broadcast_url, settings.secret_key) == ("redis://r:6379/0", "k" * 40)
    assert (settings.port, settings.workers, settings.host) == (9000, 3, "127.0.0.1")


def test_unrelated_flags_ignored() -> None:
    """Flags that are not settings (config, command) are ignored; lists become tuples."""
    flags = {"config": "x.toml", "command": "serve", "allowed_origins": ["https://a.example"]}
    settings = resolve_settings(None, flags=flags, env={})
    assert settings == ServerSettings(allowed_origins=("https://a.example",))


def test_bad_env_value_names_its_source(config) -> None:
    """A bad value from the environment is reported under the variable's name."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings(config, flags={}, env={"HALLQ_BROADCAST_URL": "kafka://x"})
    assert caught.value.problems == [
        'HALLQ_BROADCAST_URL: unsupported URL "kafka://x"; expected one of memory://, redis://, '
        "rediss://. Fix: use a memory://, redis://, rediss:// URL."
    ]


def test_bad_flag_names_its_source() -> None:
    """A bad flag is reported as the flag, e.g. --port."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings(None, flags={"port": 70000}, env={})
    assert caught.value.problems[0].startswith("--port: 70000 is out of range")


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        ("a.toml", {"HALLQ_CONFIG": "b.toml"}, Path("a.toml")),
        (None, {"HALLQ_CONFIG": "b.toml"}, Path("b.toml")),
        (None, {"HALLQ_CONFIG": ""}, Path("config.toml")),
        (None, {}, Path("config.toml")),
    ],
)
def test_config_path(flag, env, expected) -> None:
    """The config file is --config, else $HALLQ_CONFIG, else ./config.toml."""
    assert config_path(flag, env) == expected
