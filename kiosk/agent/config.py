"""The kiosk agent's TOML file: server, credential, hall, printer; all problems at once."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

from printer.errors import PrinterConfigError
from printer.layout import PaperWidth
from printer.render import RenderMode
from printer.urls import EXAMPLES, parse_printer_url

EXAMPLE = """\
server = "http://192.168.1.10:8080"      # the hallq server (or ws://…/ws)
hall = "jinjiang"
token_file = "/etc/hallq/kiosk.token"    # or: token = "hqd_…" (the kiosk's device token)
journal = "/var/lib/hallq-kiosk-agent/journal.jsonl"

[printer]
url = "tcp://192.168.1.50:9100"          # usb://0416:5011, serial:///dev/ttyS0, file:///dev/usb/lp0
width = 80                               # 58 or 80 (mm)
mode = "text"                            # text (Chinese firmware) or raster
"""
DEFAULT_JOURNAL = "kiosk-agent-journal.jsonl"  # beside the config file
_TOP = {"server", "hall", "token", "token_file", "journal", "status_interval_s", "printer"}
_PRINTER = {"url", "width", "mode", "timeout_s"}


class AgentConfigError(Exception):
    """The config file is missing or wrong; ``problems`` names each key and its fix."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"取号机打印代理配置有误 / the kiosk agent config is wrong: {path}\n{lines}\n"
            f"示例 / example:\n{EXAMPLE}"
        )


@dataclass(frozen=True, slots=True)
class PrinterSettings:
    """Where the ticket printer is and how to print on it."""

    url: str
    width: PaperWidth = 80
    mode: RenderMode = "text"
    timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything the agent needs, validated."""

    ws_url: str
    hall: str
    token: str
    journal: Path
    printer: PrinterSettings
    status_interval_s: float = 15.0


def load_agent_config(path: Path) -> AgentConfig:
    """Read and validate ``path``.

    Raises:
        AgentConfigError: listing every problem with its key and the fix.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AgentConfigError(path, [f"无法读取 / cannot read the file: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise AgentConfigError(path, [f"不是有效的 TOML / not valid TOML: {exc}"]) from None
    return _build(path, raw)


def _build(path: Path, raw: dict[str, Any]) -> AgentConfig:
    problems: list[str] = [
        f"{key}: 未知的键 / unknown key; 可用 / known keys: {', '.join(sorted(_TOP))}"
        for key in sorted(set(raw) - _TOP)
    ]
    ws_url = _ws_url(raw.get("server"), problems)
    hall = _text(raw, "hall", problems, 'the hall id, e.g. "jinjiang"')
    token = _token(path, raw, problems)
    journal = Path(raw.get("journal") or path.parent / DEFAULT_JOURNAL)
    interval = raw.get("status_interval_s", 15.0)
    if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
        problems.append(f"status_interval_s = {interval!r}: 须为正数秒 / must be seconds > 0")
        interval = 15.0
    printer = _printer(raw.get("printer"), problems)
    if problems or printer is None:
        raise AgentConfigError(path, problems)
    return AgentConfig(ws_url, hall, token, journal, printer, float(interval))


def _text(raw: dict[str, Any], key: str, problems: list[str], what: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key} = {value!r}: 缺少或为空 / missing or empty; set it to {what}")
        return ""
    return value.strip()


def _ws_url(value: Any, problems: list[str]) -> str:
    """``http(s)://host:port`` → ``ws(s)://host:port/ws``; a ``ws(s)://`` URL is kept."""
    parts = urlsplit(value) if isinstance(value, str) else None
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        problems.append(
            f"server = {value!r}: 须为服务器地址 / expected the server's URL, "
            f'e.g. "http://192.168.1.10:8080" or "wss://hallq.example.cn/ws"'
        )
        return ""
    path = parts.path.rstrip("/")
    path = path if path.endswith("/ws") else f"{path}/ws"
    return urlunsplit((schemes[parts.scheme], parts.netloc, path, "", ""))


def _token(path: Path, raw: dict[str, Any], problems: list[str]) -> str:
    token, token_file = raw.get("token"), raw.get("token_file")
    if (token is None) == (token_file is None):
        problems.append(
            "token / token_file: 二者须且只能设置一个 / set exactly one: the kiosk's device "
            "token (hqd_…, from `hallq device add --role kiosk`) or a file holding it"
        )
        return ""
    if token_file is not None:
        file = path.parent / str(token_file)
        try:
            token = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"token_file = {token_file!r}: 无法读取 / cannot read: {exc.strerror}")
            return ""
    if not isinstance(token, str) or not token.startswith("hqd_"):
        problems.append(
            "token: 不是设备令牌 / not a device token: expected the hqd_… token printed by "
            "`hallq device add --role kiosk` (never shown here)"
        )
        return ""
    return token


def _printer(value: Any, problems: list[str]) -> PrinterSettings | None:
    if not isinstance(value, dict):
        problems.append(f"[printer]: 缺少打印机设置 / missing; add url = one of {EXAMPLES}")
        return None
    problems += [
        f"printer.{key}: 未知的键 / unknown key; known: {', '.join(sorted(_PRINTER))}"
        for key in sorted(set(value) - _PRINTER)
    ]
    url = value.get("url")
    try:
        parse_printer_url(url if isinstance(url, str) else "")
    except PrinterConfigError as exc:
        problems.append(f"printer.url = {url!r}: {exc}")
    width, mode = value.get("width", 80), value.get("mode", "text")
    if width not in (58, 80) or isinstance(width, bool):
        problems.append(f"printer.width = {width!r}: 纸宽须为 58 或 80 / must be 58 or 80 (mm)")
    if mode not in ("text", "raster"):
        problems.append(
            f"printer.mode = {mode!r}: 须为 text 或 raster / must be text (printer has Chinese "
            f"firmware) or raster (it has not)"
        )
    timeout = value.get("timeout_s", 5.0)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 60:
        problems.append(f"printer.timeout_s = {timeout!r}: 须在 0–60 秒之间 / must be 0 < s ≤ 60")
        timeout = 5.0
    return PrinterSettings(
        str(url), cast(PaperWidth, width), cast(Literal["text", "raster"], mode), float(timeout)
    )
