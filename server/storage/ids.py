"""Random identifiers that never look like personal data.

Hex ids (uuid4().hex) hold runs of digits, and about one ticket id in a hundred contains
``1[3-9]\\d{9}``: a false "mobile number" in every event and audit row that names it, so
R13's scans of hall channels, audit rows and logs flagged noise. Lowercase base32 uses the
digits 2-7 only: no 1, so no mobile pattern, and 17 digits in a row are as good as impossible.
"""

from __future__ import annotations

import base64
import secrets


def new_id(length: int = 32) -> str:
    """A random id of ``length`` (a multiple of 8) characters from a-z and 2-7."""
    if length % 8:
        raise ValueError(f"id length must be a multiple of 8, got {length}")
    return base64.b32encode(secrets.token_bytes(length * 5 // 8)).decode().lower()
