"""hallq's configuration: config.toml loaded, validated and resolved into typed values."""

from __future__ import annotations

from server.config.load import check_config, load_config
from server.config.model import (
    AnnounceConfig,
    AppConfig,
    DisplayConfig,
    HallConfig,
    LaneConfig,
    QueueConfig,
    ServiceConfig,
    TicketTexts,
    WindowConfig,
    ZoneConfig,
)
from server.config.settings import ServerSettings, config_path, resolve_settings

__all__ = [
    "AnnounceConfig",
    "AppConfig",
    "DisplayConfig",
    "HallConfig",
    "LaneConfig",
    "QueueConfig",
    "ServerSettings",
    "ServiceConfig",
    "TicketTexts",
    "WindowConfig",
    "ZoneConfig",
    "check_config",
    "config_path",
    "load_config",
    "resolve_settings",
]
