"""hallq's screens and window terminal: plain HTML, CSS and ES modules under ``web/``.

The server serves ``web/`` as ``/static/display/`` and the pages of the contract
(``/display/…``, ``/terminal``, ``/pair/…``) from it; nothing here is built or bundled.
"""

from pathlib import Path

WEB = Path(__file__).parent / "web"
