"""SMS PDUs (3GPP TS 23.040): decode, encode, reassemble.

    >>> from phonebridge import sms
    >>> pdus = sms.encode_text("+4915112345678", "Hello", smsc="")
    >>> m = sms.decode(pdus[0].data)
    >>> m.type, m.address.number, m.text
    ('submit', '+4915112345678', 'Hello')

Messages are frozen dataclasses; times are aware :class:`datetime.datetime`.
Errors are :class:`phonebridge.MalformedPDU` with ``.offset``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Protocol, Tuple, Union

from . import _phonebridge
from .errors import MalformedPDU

__all__ = [
    "Address",
    "ConcatInfo",
    "PortInfo",
    "UDH",
    "Message",
    "Assembled",
    "PDU",
    "TextPlan",
    "GroupKey",
    "PartStore",
    "MemoryPartStore",
    "Reassembler",
    "decode",
    "encode_text",
    "encode_binary",
    "text_info",
    "validity_relative",
    "LANG_TURKISH",
    "LANG_SPANISH",
    "LANG_PORTUGUESE",
]

LANG_TURKISH = 1
LANG_SPANISH = 2
LANG_PORTUGUESE = 3

_Buffer = Union[bytes, bytearray, memoryview]


@dataclass(frozen=True)
class Address:
    """An address field: ``number`` ("+" prefixed when international, or an
    alphanumeric sender name), type of number and numbering plan."""

    number: str
    ton: int
    npi: int
    toa: int

    @property
    def international(self) -> bool:
        return self.ton == 1

    @property
    def alphanumeric(self) -> bool:
        return self.ton == 5


@dataclass(frozen=True)
class ConcatInfo:
    """Concatenation IE: reference, total parts, this part's number (1-based)."""

    ref: int
    total: int
    seq: int
    ref16: bool


@dataclass(frozen=True)
class PortInfo:
    """Application port addressing IE."""

    dst: int
    src: int
    ports16: bool


@dataclass(frozen=True)
class UDH:
    """The user data header: known elements decoded, every element in ``ies``
    as ``(iei, data)``."""

    length: int
    concat: Optional[ConcatInfo]
    ports: Optional[PortInfo]
    lang_locking: int
    lang_single: int
    ies: Tuple[Tuple[int, bytes], ...]
    ies_truncated: bool


@dataclass(frozen=True)
class Message:
    """A decoded SMS TPDU.

    ``type`` is "deliver", "submit", "status-report", ... ``text`` is the
    user data as text ("" for 8-bit data, which is in ``data``). Fields a
    type does not carry are None.
    """

    type: str
    smsc: Optional[Address]
    address: Optional[Address]
    pid: Optional[int]
    dcs: Optional[int]
    encoding: Optional[str]
    message_class: Optional[int]
    text: str
    data: Optional[bytes]
    scts: Optional[datetime.datetime]
    udh: Optional[UDH]
    first_octet: int = 0
    mr: int = 0
    more_messages: bool = False
    reply_path: bool = False
    status_report: bool = False
    reject_duplicates: bool = False
    compressed: bool = False
    udl: int = 0
    validity: Union[None, int, datetime.datetime] = None
    """relative validity in seconds, or the absolute time (SUBMIT)"""
    status: Optional[int] = None
    status_text: Optional[str] = None
    delivered: Optional[bool] = None
    discharge: Optional[datetime.datetime] = None
    fcs: Optional[int] = None
    mwi: Optional[Tuple[bool, bool, int]] = None
    """message waiting: (active, store, kind 0 voicemail/1 fax/2 e-mail/3 other)"""
    command_type: Optional[int] = None
    message_number: Optional[int] = None
    wap_push: bool = False
    tpdu: Optional[bytes] = field(default=None, repr=False)

    @property
    def concat(self) -> Optional[ConcatInfo]:
        return self.udh.concat if self.udh else None

    @property
    def ports(self) -> Optional[PortInfo]:
        return self.udh.ports if self.udh else None


GroupKey = Tuple[str, int, int, int, int]
"""(originator, reference, total, dst_port, src_port); ports -1 when absent"""


@dataclass(frozen=True)
class Assembled:
    """A message out of the :class:`Reassembler`: complete, or surfaced by
    :meth:`Reassembler.expire` with parts missing (``complete`` False)."""

    complete: bool
    first: Message
    """header fields of the lowest-numbered part (no tpdu, data, udh IEs)"""
    key: GroupKey
    total: int
    parts: Tuple[int, ...]
    """the part numbers received"""
    first_received: int
    text: str
    data: Optional[bytes]

    @property
    def address(self) -> Optional[Address]:
        return self.first.address

    @property
    def missing(self) -> Tuple[int, ...]:
        return tuple(s for s in range(1, self.total + 1) if s not in self.parts)


@dataclass(frozen=True)
class PDU:
    """An encoded SMS-SUBMIT: ``data`` (SMSC field when asked for, then the
    TPDU) and ``tpdu_len`` (the length AT+CMGS wants)."""

    data: bytes
    tpdu_len: int

    @property
    def hex(self) -> str:
        return self.data.hex().upper()


@dataclass(frozen=True)
class TextPlan:
    encoding: str
    lang_locking: int
    lang_single: int
    parts: int
    units: int
    per_part: int


def _time(t: Optional[Tuple[int, ...]]) -> Optional[datetime.datetime]:
    if t is None:
        return None
    year, month, day, hour, minute, second, quarters = t
    tz = datetime.timezone(datetime.timedelta(minutes=15 * quarters))
    try:
        return datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as e:  # a date the calendar does not have
        raise MalformedPDU(f"invalid time stamp {t}: {e}") from None


def _address(a: Optional[Dict[str, Any]]) -> Optional[Address]:
    return None if a is None else Address(a["number"], a["ton"], a["npi"], a["toa"])


def _udh(u: Optional[Dict[str, Any]]) -> Optional[UDH]:
    if u is None:
        return None
    c, p = u["concat"], u["ports"]
    return UDH(u["length"], ConcatInfo(*c) if c else None, PortInfo(*p) if p else None,
               u["lang_locking"], u["lang_single"], tuple(u["ies"]), u["ies_truncated"])


def _message(d: Dict[str, Any]) -> Message:
    v = d.get("validity")
    return Message(
        type=d["type"], smsc=_address(d["smsc"]), address=_address(d["address"]), pid=d["pid"],
        dcs=d.get("dcs"), encoding=d.get("encoding"), message_class=d.get("message_class"),
        text=d["text"], data=d.get("data"), scts=_time(d["scts"]), udh=_udh(d["udh"]),
        first_octet=d["first_octet"], mr=d["mr"], more_messages=d["more_messages"],
        reply_path=d["reply_path"], status_report=d["status_report"],
        reject_duplicates=d["reject_duplicates"], compressed=d.get("compressed", False),
        udl=d["udl"], validity=_time(v) if isinstance(v, tuple) else v,
        status=d.get("status"), status_text=d.get("status_text"), delivered=d.get("delivered"),
        discharge=_time(d["discharge"]), fcs=d.get("fcs"), mwi=d.get("mwi"),
        command_type=d.get("command_type"), message_number=d.get("message_number"),
        wap_push=d["wap_push"], tpdu=d.get("tpdu"))


def _pdu_bytes(pdu: Union[str, _Buffer]) -> _Buffer:
    if isinstance(pdu, str):
        return _phonebridge.hex_decode(pdu.strip())
    return pdu


def decode(pdu: Union[str, _Buffer], smsc: bool = True, reverse: bool = False) -> Message:
    """Decode one SMS PDU, as bytes or hex text.

    ``smsc``: the PDU starts with the SMSC address field (as AT+CMGL gives it);
    False for a bare TPDU. ``reverse``: read MTIs in the MS -> SC direction
    sense of the other side (DELIVER-REPORT, SUBMIT-REPORT, COMMAND).
    Raises :class:`MalformedPDU` with ``.offset`` (bytes into the PDU).
    """
    return _message(_phonebridge.sms_decode(_pdu_bytes(pdu), smsc, reverse))


_OPTION_NAMES = ("include_smsc", "smsc", "status_report", "reject_duplicates", "reply_path",
                 "msg_class", "validity", "mr", "pid", "reference", "ref16", "languages",
                 "force_ucs2")


def _options(smsc: Optional[str], message_class: Optional[int], status_report: bool,
             validity: Union[None, int, datetime.timedelta], languages: Iterable[int],
             ucs2: bool, extra: Dict[str, Any]) -> Dict[str, Any]:
    for k in extra:
        if k not in _OPTION_NAMES:
            raise TypeError(f"unknown SMS option {k!r}")
    o: Dict[str, Any] = dict(extra)
    if smsc is not None:
        o["include_smsc"] = True
        o["smsc"] = smsc
    if message_class is not None:
        if message_class not in (0, 1, 2, 3):
            raise ValueError("message_class must be 0-3 or None")
        o["msg_class"] = message_class
    o["status_report"] = status_report
    if validity is not None:
        secs = validity.total_seconds() if isinstance(validity, datetime.timedelta) else validity
        o["validity"] = _phonebridge.sms_validity_relative(int(secs))
    mask = 0
    for lang in languages:
        if lang not in (LANG_TURKISH, LANG_SPANISH, LANG_PORTUGUESE):
            raise ValueError(f"unknown national language table {lang}")
        mask |= 1 << lang
    o["languages"] = mask
    o["force_ucs2"] = ucs2
    return o


def encode_text(to: str, text: str, *, smsc: Optional[str] = None,
                message_class: Optional[int] = None, status_report: bool = False,
                validity: Union[None, int, datetime.timedelta] = None,
                languages: Iterable[int] = (), ucs2: bool = False, **options: Any) -> List[PDU]:
    """Encode text to SMS-SUBMIT PDUs, split and concatenated when needed.

    ``smsc``: start each PDU with an SMSC field ("" for the modem's own SMSC;
    None for a bare TPDU). ``validity``: relative, in seconds or a timedelta.
    ``languages``: national shift tables the encoder may use
    (:data:`LANG_TURKISH`, ...). ``ucs2``: UCS-2 even when GSM 7-bit would do.
    Further options: reject_duplicates, reply_path, mr, pid, reference
    (concatenation reference, -1 random), ref16.
    """
    o = _options(smsc, message_class, status_report, validity, languages, ucs2, options)
    return [PDU(d, n) for d, n in _phonebridge.sms_encode_text(to, text, **o)]


def encode_binary(to: str, data: _Buffer, dst_port: int = -1, src_port: int = -1, *,
                  smsc: Optional[str] = None, message_class: Optional[int] = None,
                  status_report: bool = False,
                  validity: Union[None, int, datetime.timedelta] = None,
                  **options: Any) -> List[PDU]:
    """Encode 8-bit data (with application ports when ``dst_port`` >= 0)."""
    o = _options(smsc, message_class, status_report, validity, (), False, options)
    return [PDU(d, n) for d, n in _phonebridge.sms_encode_binary(to, data, dst_port, src_port, **o)]


def text_info(text: str, *, languages: Iterable[int] = (), ucs2: bool = False) -> TextPlan:
    """How :func:`encode_text` would send ``text``: encoding and number of parts."""
    o = _options(None, None, False, None, languages, ucs2, {})
    return TextPlan(**_phonebridge.sms_text_info(text, **o))


def validity_relative(seconds: int) -> int:
    """The relative TP-VP octet for a period (rounded up to what it can say)."""
    return _phonebridge.sms_validity_relative(seconds)


# --- reassembly ----------------------------------------------------------------


class PartStore(Protocol):
    """Where a :class:`Reassembler` keeps the parts of incomplete messages, so
    they survive a restart. Exceptions raised here propagate out of the
    reassembler call that needed the store."""

    def save(self, key: GroupKey, seq: int, pdu: bytes, flags: int, received: int) -> None: ...

    def delete(self, key: GroupKey) -> None: ...

    def load(self) -> Iterable[Tuple[GroupKey, int, bytes, int, int]]: ...


class MemoryPartStore:
    """A :class:`PartStore` in a dict (for tests, or as an example)."""

    def __init__(self) -> None:
        self.parts: Dict[Tuple[GroupKey, int], Tuple[bytes, int, int]] = {}

    def save(self, key: GroupKey, seq: int, pdu: bytes, flags: int, received: int) -> None:
        self.parts[(tuple(key), seq)] = (bytes(pdu), flags, received)  # type: ignore[index]

    def delete(self, key: GroupKey) -> None:
        for k in [k for k in self.parts if k[0] == tuple(key)]:
            del self.parts[k]

    def load(self) -> Iterable[Tuple[GroupKey, int, bytes, int, int]]:
        return [(k, s, p, f, r) for (k, s), (p, f, r) in self.parts.items()]


def _assembled(d: Optional[Dict[str, Any]]) -> Optional[Assembled]:
    if d is None:
        return None
    return Assembled(d["complete"], _message(d["first"]), tuple(d["key"]), d["total"],  # type: ignore[arg-type]
                     tuple(d["parts"]), d["first_received"], d["text"], d["data"])


class Reassembler:
    """Joins the parts of concatenated messages.

    ``now`` values are the caller's clock in any unit (the ``timeout`` is in
    the same unit). With a ``store`` (a :class:`PartStore`), every part kept
    is saved before :meth:`add` returns, and :meth:`restore` reloads them
    after a restart.

        r = sms.Reassembler(timeout=3600)
        for pdu in incoming:
            msg = r.add(pdu, now=int(time.time()))
            if msg: print(msg.address.number, msg.text)
    """

    def __init__(self, timeout: int = 0, store: Optional[PartStore] = None,
                 max_groups: int = 0) -> None:
        self._r = _phonebridge.SmsReassembler(timeout, store, max_groups)

    def add(self, pdu: Union[str, _Buffer], now: int, smsc: bool = True,
            reverse: bool = False) -> Optional[Assembled]:
        """Add a received PDU; the whole message when it is complete (a message
        that is not concatenated comes back at once), else None."""
        return _assembled(self._r.add(_pdu_bytes(pdu), now, smsc, reverse))

    def expire(self, now: int) -> List[Assembled]:
        """Every group incomplete for longer than the timeout, with what arrived."""
        out: List[Assembled] = []
        while (a := _assembled(self._r.expire(now))) is not None:
            out.append(a)
        return out

    def flush(self) -> List[Assembled]:
        """Every group held, oldest first, forgotten (also in the store)."""
        out: List[Assembled] = []
        while (a := _assembled(self._r.flush())) is not None:
            out.append(a)
        return out

    def restore(self) -> None:
        """Reload the parts the store holds (after a restart)."""
        self._r.restore()

    @property
    def pending(self) -> int:
        """Incomplete groups held."""
        return self._r.pending

    def __len__(self) -> int:
        return self._r.pending
