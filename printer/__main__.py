"""``python -m printer test|status|virtual``."""

from __future__ import annotations

import sys

from printer.cli import main

sys.exit(main())
