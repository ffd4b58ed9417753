"""phonebridge: a real mobile number in Matrix, with SIP call screening.

The Python face of libphonebridge. The C library does the work; this package
gives it Python shapes: bytes and str, exceptions (see
:mod:`phonebridge.errors`), and the standard :mod:`logging` module.

    >>> import phonebridge
    >>> phonebridge.hex_decode("68656c6c6f")
    b'hello'

The submodules (``phonebridge.sms``, ``phonebridge.mms``, ``phonebridge.screen``,
...) are imported with the package: ``import phonebridge`` is enough to use
any of them.
"""

from __future__ import annotations

import logging
from typing import Optional, Tuple

from . import _phonebridge
from .errors import *  # noqa: F401,F403  (the exception classes are part of the API)
from .errors import MalformedPDU, PhoneBridgeError  # noqa: F401

# Every submodule comes with the package ("import phonebridge; phonebridge.sms"
# works); they import nothing from this file, so the order does not matter.
from . import matrix, mms, mmsc, modem, phone, screen, sms, store  # noqa: E402,F401

__version__: str = _phonebridge.version_string()

__all__ = [
    "__version__",
    "library_version",
    "hex_encode",
    "hex_decode",
    "base64_encode",
    "base64_decode",
    "utf8_validate",
    "charset_to_utf8",
    "charset_from_utf8",
    "charset_from_mib",
    "charset_to_mib",
    "enable_logging",
    "disable_logging",
    "matrix",
    "mms",
    "mmsc",
    "modem",
    "phone",
    "screen",
    "sms",
    "store",
] + list(errors.__all__)  # type: ignore[name-defined]  # noqa: F405


def library_version() -> Tuple[int, int, int]:
    """The (major, minor, patch) version of the C library in use."""
    return _phonebridge.version()


hex_encode = _phonebridge.hex_encode
hex_decode = _phonebridge.hex_decode
base64_encode = _phonebridge.base64_encode
base64_decode = _phonebridge.base64_decode
utf8_validate = _phonebridge.utf8_validate
charset_to_utf8 = _phonebridge.charset_to_utf8
charset_from_utf8 = _phonebridge.charset_from_utf8
charset_from_mib = _phonebridge.charset_from_mib
charset_to_mib = _phonebridge.charset_to_mib

# syslog levels of the C library -> logging levels
_LEVELS = {
    _phonebridge.LOG_ERROR: logging.ERROR,
    _phonebridge.LOG_WARNING: logging.WARNING,
    _phonebridge.LOG_NOTICE: logging.INFO,
    _phonebridge.LOG_INFO: logging.INFO,
    _phonebridge.LOG_DEBUG: logging.DEBUG,
}


def _to_logging(level: int, domain: str, message: str) -> None:
    logging.getLogger("phonebridge." + domain).log(_LEVELS.get(level, logging.DEBUG), "%s", message)


def enable_logging(level: int = logging.INFO, logger: Optional[logging.Logger] = None) -> None:
    """Send the library's log lines to :mod:`logging`.

    Lines go to the logger ``phonebridge.<domain>`` (``phonebridge.hilink``,
    ``phonebridge.sip``, ...), or to ``logger`` when given. ``level`` is a
    :mod:`logging` level; lines below it are not even formatted by the C side.
    """
    c_level = (_phonebridge.LOG_DEBUG if level <= logging.DEBUG else
               _phonebridge.LOG_INFO if level <= logging.INFO else
               _phonebridge.LOG_WARNING if level <= logging.WARNING else
               _phonebridge.LOG_ERROR)
    if logger is None:
        _phonebridge.set_log_handler(_to_logging, c_level)
    else:
        target = logger

        def handler(lvl: int, domain: str, message: str) -> None:
            target.log(_LEVELS.get(lvl, logging.DEBUG), "%s: %s", domain, message)
        _phonebridge.set_log_handler(handler, c_level)


def disable_logging() -> None:
    """Stop passing the library's log lines to Python (the default)."""
    _phonebridge.set_log_handler(None)
