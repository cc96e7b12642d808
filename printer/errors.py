"""Every error the printer package raises, in one tree.

::

    PrinterError                    base; ``str()`` is for operators (English),
    │                               ``user_message`` for the hall (Chinese first)
    ├── PrinterConfigError          bad printer URL or option (also a ValueError)
    │   └── FontNotFound            no CJK font for raster tickets and previews
    ├── PrinterUnreachable          the job never reached a printer
    │   ├── PrinterOffline          no device at that address, or an I/O error
    │   ├── PrinterRefused          the host refused the connection
    │   └── PrinterTimeout          no answer, or no progress, within the deadline
    ├── PrinterNotReady             the printer answered and says it cannot print
    │   ├── PaperOut                paper end sensor
    │   ├── CoverOpen               cover open
    │   └── PrinterFault            cutter, head or other hardware error
    ├── PrinterProtocolError        the printer's answer is not valid ESC/POS status
    └── StatusUnsupported           the transport is write-only (file://)

Transports translate library exceptions (python-escpos, pyusb, pyserial, OSError)
into this tree in one place each, so callers catch ``PrinterError`` and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from printer.status import PrinterStatus


class PrinterError(Exception):
    """Base of every printer error; carries a message for hall users."""

    user_message: str = (
        "打印机暂时无法使用，请联系工作人员。 / The printer is unavailable; please ask staff."
    )


class PrinterConfigError(PrinterError, ValueError):
    """A printer URL, option or file setting is wrong."""

    user_message = (
        "打印机配置有误，请联系工作人员。 / The printer is misconfigured; please ask staff."
    )


class FontNotFound(PrinterConfigError):
    """No CJK font was found for raster tickets and previews."""


class PrinterUnreachable(PrinterError):
    """The job never reached a printer."""


class PrinterOffline(PrinterUnreachable):
    """No device answers at that address, or the device failed with an I/O error."""

    user_message = (
        "打印机未连接，请联系工作人员。 / The printer is not connected; please ask staff."
    )


class PrinterRefused(PrinterUnreachable):
    """The printer's host refused the connection."""

    user_message = (
        "打印机拒绝连接，请联系工作人员。 / The printer refused the job; please ask staff."
    )


class PrinterTimeout(PrinterUnreachable):
    """The printer did not answer, or stopped taking data, within the deadline."""

    user_message = (
        "打印机无响应，请联系工作人员。 / The printer does not respond; please ask staff."
    )


class PrinterNotReady(PrinterError):
    """The printer answered its status and cannot print now."""

    user_message = "打印机暂停工作，请联系工作人员。 / The printer is paused; please ask staff."

    def __init__(self, message: str, status: PrinterStatus) -> None:
        super().__init__(message)
        self.status = status


class PaperOut(PrinterNotReady):
    """The paper end sensor reports no paper."""

    user_message = "打印机缺纸，请联系工作人员。 / The printer is out of paper; please ask staff."


class CoverOpen(PrinterNotReady):
    """The printer cover is open."""

    user_message = "打印机盖未合上，请联系工作人员。 / The printer cover is open; please ask staff."


class PrinterFault(PrinterNotReady):
    """The printer reports a cutter, head or other hardware error."""

    user_message = "打印机故障，请联系工作人员。 / The printer has a fault; please ask staff."


class PrinterProtocolError(PrinterError):
    """The printer answered something that is not an ESC/POS status byte."""


class StatusUnsupported(PrinterError):
    """The transport can only write, so the printer's status cannot be read."""
