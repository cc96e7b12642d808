"""An app built from the environment, for ``uvicorn --factory`` (needed with several workers)."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from server.config import config_path, load_config, resolve_settings
from server.web.app import create_app


def app_from_env() -> Starlette:
    """``create_app`` with config from ``$HALLQ_CONFIG`` and settings from the environment."""
    config = load_config(config_path(None, os.environ))
    settings = resolve_settings(config, flags={}, env=os.environ)
    from dataclasses import replace

    return create_app(replace(config, server=settings))
