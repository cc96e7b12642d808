"""Enroll bench devices through ``hallq device add --json``, all in one process.

Each device is one call of the CLI's own entry point (``server.cli.main``) with the arguments
``hallq device add … --json`` takes, so the code path is the command's; running them in one
interpreter saves the ~1 s start-up per device. Reads a JSON list of
``{"role", "name", "window"}`` on stdin, prints the JSON list of tokens. Config and database
come from HALLQ_CONFIG / HALLQ_DATABASE_URL as for the command.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

from server.cli import main as hallq


def add(role: str, name: str, window: str | None) -> str:
    argv = ["device", "add", "--hall", "jinjiang", "--role", role, "--name", name, "--json"]
    argv += ["--window", window] if window else []
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = hallq(argv)
    if code != 0:
        raise SystemExit(f"hallq {' '.join(argv)} exited with {code}")
    return str(json.loads(out.getvalue())["token"])


def main() -> None:
    specs = json.loads(sys.stdin.read())
    json.dump([add(s["role"], s["name"], s.get("window")) for s in specs], sys.stdout)


if __name__ == "__main__":
    main()
