"""hallq's kiosk side: the touch page, guide desk and status page (``web/``), and the agent
that prints a kiosk's tickets on its ESC/POS printer.

The server serves ``web/`` as ``/static/kiosk/``; the pages are plain HTML and ES modules.
"""

from pathlib import Path

WEB = Path(__file__).parent / "web"
