"""What the lifespan builds and the routes use, typed."""

from __future__ import annotations

from dataclasses import dataclass

from server.config import AppConfig
from server.domain.clock import Clock
from server.realtime.runtime import Realtime
from server.services.commands import Commands
from server.storage.db import Database


@dataclass
class AppState:
    config: AppConfig
    db: Database
    clock: Clock
    commands: Commands
    ready: bool = False
    realtime: Realtime | None = None
