"""Telephone numbers to E.164.

    >>> from phonebridge import phone
    >>> phone.normalize("0044 (0)20-7946-0958", "DE")
    ('+442079460958', 'e164')

A small table-driven normaliser (not libphonenumber): see docs/store.md for
what it does not handle.
"""

from __future__ import annotations

from typing import Optional, Tuple

from . import _phonebridge

__all__ = ["normalize", "country_code", "E164", "SHORT", "ALPHANUMERIC"]

E164 = "e164"
SHORT = "short"
ALPHANUMERIC = "alphanumeric"
_KINDS = (E164, SHORT, ALPHANUMERIC)


def normalize(number: str, region: Optional[str] = None) -> Tuple[str, str]:
    """Normalise ``number`` as dialled or received in ``region`` (ISO 3166
    alpha-2, e.g. "DE"; None when the number is known to be international).

    Returns ``(text, kind)``: kind is :data:`E164` ("+" and digits),
    :data:`SHORT` (a short code, unchanged) or :data:`ALPHANUMERIC` (a sender
    name, unchanged). Raises MalformedPDU (not a number), UnsupportedError
    (unknown region, or a national number without one), RangeError (too long).
    """
    text, kind = _phonebridge.phone_normalize(number, region)
    return text, _KINDS[kind]


def country_code(region: str) -> int:
    """The country calling code of a region (49 for "DE"); UnsupportedError
    for a region not in the table."""
    return _phonebridge.phone_country_code(region)
