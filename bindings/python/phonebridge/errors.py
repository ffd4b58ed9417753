"""The exceptions phonebridge raises.

Every error of the C library arrives as a subclass of :class:`PhoneBridgeError`
carrying the library's code (``.code``, ``.name``) and message. Where a
built-in exception means the same thing, the class derives from it too, so
``except TimeoutError`` and ``except ValueError`` work as Python users expect.
Out of memory is Python's own :class:`MemoryError`.
"""

from __future__ import annotations

import builtins
from typing import Dict, Optional, Type

from . import _phonebridge

__all__ = [
    "PhoneBridgeError",
    "InvalidArgument",
    "MalformedPDU",
    "NotFoundError",
    "TimeoutError",
    "TransportError",
    "ProtocolError",
    "AuthError",
    "ForbiddenError",
    "UnsupportedError",
    "BusyError",
    "ExistsError",
    "TooBigError",
    "TryAgainError",
    "CancelledError",
    "StateError",
    "IncompleteError",
    "RangeError",
]


class PhoneBridgeError(Exception):
    """Base class of every phonebridge error.

    Attributes:
        code: the library's negative error code (e.g. -4)
        name: its symbolic name (e.g. ``"PB_EMALFORMED"``)
    """

    code: int = -1
    name: str = "PB_ERROR"


class InvalidArgument(PhoneBridgeError, ValueError):
    """An argument was invalid (PB_EINVAL)."""


class MalformedPDU(PhoneBridgeError, ValueError):
    """Input bytes do not follow their format (PB_EMALFORMED).

    Attributes:
        offset: the byte offset where decoding failed, when known
    """

    offset: Optional[int] = None


class NotFoundError(PhoneBridgeError, LookupError):
    """The thing asked for does not exist (PB_ENOTFOUND)."""


class TimeoutError(PhoneBridgeError, builtins.TimeoutError):
    """A deadline passed (PB_ETIMEOUT)."""


class TransportError(PhoneBridgeError, OSError):
    """A socket, serial line or file failed (PB_EIO)."""


class ProtocolError(PhoneBridgeError):
    """The peer broke its protocol or answered with an error (PB_EPROTO)."""


class AuthError(PhoneBridgeError):
    """Authentication failed or credentials were refused (PB_EAUTH)."""


class ForbiddenError(ProtocolError, AuthError):
    """The server refused the request for lack of permission (Matrix
    ``M_FORBIDDEN``, HTTP 401 or 403): the library's code is PB_EPROTO, so
    it is a :class:`ProtocolError`, and it is an :class:`AuthError` too.

    Attributes:
        errcode: the server's errcode (e.g. ``"M_FORBIDDEN"``), or None
        http_status: the HTTP status of the answer
    """


class UnsupportedError(PhoneBridgeError):
    """Valid, but not supported here or by the peer (PB_EUNSUPPORTED)."""


class BusyError(PhoneBridgeError):
    """The resource is busy (PB_EBUSY)."""


class ExistsError(PhoneBridgeError):
    """Already exists: a duplicate (PB_EEXISTS)."""


class TooBigError(PhoneBridgeError):
    """A size limit was exceeded (PB_ETOOBIG)."""


class TryAgainError(PhoneBridgeError):
    """A transient failure; the same call may succeed later (PB_EAGAIN)."""


class CancelledError(PhoneBridgeError):
    """The operation was cancelled (PB_ECANCELLED)."""


class StateError(PhoneBridgeError):
    """Not allowed in the object's current state (PB_ESTATE)."""


class IncompleteError(PhoneBridgeError):
    """More data is needed (PB_EINCOMPLETE)."""


class RangeError(PhoneBridgeError, ValueError):
    """A value is outside its allowed range (PB_ERANGE)."""


_BY_CODE: Dict[int, Type[PhoneBridgeError]] = {
    -1: PhoneBridgeError,
    -3: InvalidArgument,
    -4: MalformedPDU,
    -5: NotFoundError,
    -6: TimeoutError,
    -7: TransportError,
    -8: ProtocolError,
    -9: AuthError,
    -10: UnsupportedError,
    -11: BusyError,
    -12: ExistsError,
    -13: TooBigError,
    -14: TryAgainError,
    -15: CancelledError,
    -16: StateError,
    -17: IncompleteError,
    -18: RangeError,
}

# Each class carries its own code and name, so one raised by Python code (a
# modem backend written in Python, say) means the same to the C library.
for _code, _cls in _BY_CODE.items():
    _cls.code = _code
    _cls.name = _phonebridge.error_name(_code)

_phonebridge._register_errors(_BY_CODE, PhoneBridgeError)
