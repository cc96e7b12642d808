"""``python -m kiosk.agent --config kiosk-agent.toml [--check]``: run the kiosk agent."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path

from kiosk.agent.agent import KioskAgent
from kiosk.agent.config import AgentConfigError, load_agent_config


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, validate the config, run until interrupted; exit 2 on a bad config."""
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.agent", description="hallq kiosk agent: prints kiosk tickets"
    )
    parser.add_argument("--config", type=Path, default=Path("kiosk-agent.toml"))
    parser.add_argument("--check", action="store_true", help="validate the config and exit")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_agent_config(args.config)
    except AgentConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    if args.check:
        sys.stdout.write(f"OK: {args.config} (printer {config.printer.url})\n")
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(KioskAgent(config).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
