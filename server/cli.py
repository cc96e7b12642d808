"""The `hallq` command line (contract.md): serve, demo, db, device, staff, printer, config."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from server.config import AppConfig, check_config, config_path, load_config, resolve_settings
from server.domain.clock import SystemClock
from server.domain.errors import ConfigError, HallqError
from server.services import auth
from server.services.setup import bootstrap
from server.storage.db import Database


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hallq", description="hallq: 政务服务大厅排队叫号系统")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    _config_flag(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    demo = sub.add_parser("demo", help="zero-setup demo on SQLite in a temporary folder")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--host", default="127.0.0.1")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    _config_flag(db_sub.add_parser("upgrade", help="apply migrations"))
    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("path", nargs="?")
    _device_commands(sub)
    _staff_commands(sub)
    from printer.cli import add_commands

    add_commands(sub)
    return parser


def _config_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config.toml (default: $HALLQ_CONFIG or ./config.toml)")


def _device_commands(sub: Any) -> None:
    device = sub.add_parser("device", help="enroll and revoke devices")
    dsub = device.add_subparsers(dest="device_command", required=True)
    add = dsub.add_parser("add", help="enroll a device; prints its token once")
    _config_flag(add)
    add.add_argument("--hall", required=True)
    add.add_argument("--role", required=True, choices=["kiosk", "display", "terminal", "evaluator"])
    add.add_argument("--window")
    add.add_argument("--zone")
    add.add_argument("--name", required=True)
    add.add_argument("--json", action="store_true")
    revoke = dsub.add_parser("revoke", help="revoke a device")
    _config_flag(revoke)
    revoke.add_argument("id")


def _staff_commands(sub: Any) -> None:
    staff = sub.add_parser("staff", help="staff accounts")
    ssub = staff.add_subparsers(dest="staff_command", required=True)
    add = ssub.add_parser("add", help="create a staff account (password from stdin)")
    _config_flag(add)
    add.add_argument("--username", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=["staff", "guide", "manager", "admin"])
    add.add_argument("--hall")
    add.add_argument("--code")
    add.add_argument("--password-stdin", action="store_true", required=True)


def load(args: argparse.Namespace) -> AppConfig:
    """config.toml with settings resolved (flags → environment → file → defaults)."""
    config = load_config(config_path(getattr(args, "config", None), os.environ))
    flags = {k: getattr(args, k, None) for k in ("host", "port", "workers")}
    settings = resolve_settings(config, flags=flags, env=os.environ)
    return _with_settings(config, settings)


def _with_settings(config: AppConfig, settings: Any) -> AppConfig:
    from dataclasses import replace

    return replace(config, server=settings)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.web.app import WS_MAX_SIZE

    config = load(args)
    s = config.server
    os.environ["HALLQ_CONFIG"] = str(config.path)
    os.environ.setdefault("HALLQ_DATABASE_URL", s.database_url)
    uvicorn.run(
        "server.web.factory:app_from_env",
        factory=True,
        host=s.host,
        port=s.port,
        workers=s.workers,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=WS_MAX_SIZE,
        log_level="info",
        proxy_headers=False,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from server.demo import run_demo

    return run_demo(host=args.host, port=args.port)


def cmd_db(args: argparse.Namespace) -> int:
    config = load(args)

    async def run() -> None:
        db = Database(config.server.database_url)
        try:
            await bootstrap(db, config, SystemClock().now())
        finally:
            await db.dispose()

    asyncio.run(run())
    print(f"hallq: database at the newest schema ({_safe_url(config.server.database_url)})")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    path = config_path(args.path, os.environ)
    problems = check_config(path)
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"{path}: OK")
    return 1 if problems else 0


def cmd_device(args: argparse.Namespace) -> int:
    config = load(args)
    now = SystemClock().now()
    if args.device_command == "revoke":
        _run_db(config, lambda conn: auth.revoke_device(conn, args.id, now))
        print(f"hallq: device {args.id} revoked")
        return 0
    hall = config.hall(args.hall)
    if args.window and args.window not in hall.windows:
        raise ConfigError(
            [
                f"--window: unknown window {args.window!r} in hall {hall.id}; "
                f"expected one of {', '.join(hall.windows)}."
            ]
        )
    if args.zone and args.zone not in hall.zones:
        raise ConfigError(
            [
                f"--zone: unknown zone {args.zone!r} in hall {hall.id}; "
                f"expected one of {', '.join(hall.zones)}."
            ]
        )
    device = _run_db(
        config,
        lambda conn: auth.add_device(
            conn,
            hall=hall.id,
            role=args.role,
            name=args.name,
            window=args.window,
            zone=args.zone,
            now=now,
        ),
    )
    pairing_url = f"{config.server.public_base_url.rstrip('/')}/pair/{device.pairing_code}"
    out = {"id": device.id, "token": device.token, "pairing_url": pairing_url}
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"device id:   {device.id}\ntoken:       {device.token}   (shown once)\n"
            f"pairing url: {pairing_url}   (single use, valid 10 minutes)"
        )
    return 0


def cmd_staff(args: argparse.Namespace) -> int:
    config = load(args)
    password = sys.stdin.readline().rstrip("\n")
    if args.hall:
        config.hall(args.hall)
    now = SystemClock().now()
    staff_id = _run_db(
        config,
        lambda conn: auth.add_staff(
            conn,
            username=args.username,
            name=args.name,
            role=args.role,
            hall=args.hall,
            password=password,
            now=now,
            code=args.code,
        ),
    )
    print(f"hallq: staff {args.username} created (id {staff_id})")
    return 0


def _run_db(config: AppConfig, fn: Any) -> Any:
    async def run() -> Any:
        db = Database(config.server.database_url)
        try:
            await bootstrap(db, config, SystemClock().now())
            async with db.write() as conn:
                return await fn(conn)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url


HANDLERS = {
    "serve": cmd_serve,
    "demo": cmd_demo,
    "db": cmd_db,
    "check-config": cmd_check_config,
    "device": cmd_device,
    "staff": cmd_staff,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        handler = getattr(args, "handler", None) or HANDLERS[args.command]
        return int(handler(args))
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 1
    except HallqError as exc:
        print(f"hallq: {exc.message}\n       {exc.message_en}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
