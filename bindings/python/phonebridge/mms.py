"""MMS (OMA-MMS-ENC 1.3) and WAP push: decode and encode.

    >>> from phonebridge import mms
    >>> msg = mms.decode(open("message.mms", "rb").read())
    >>> msg.from_, msg.to, msg.subject, msg.date
    >>> for part in msg.media_parts:
    ...     open(part.filename, "wb").write(part.body)

Zero copy: part bodies are read-only :class:`memoryview` slices of the
input buffer (which they keep alive), unless the library had to decode them
(base64, quoted-printable) or ``copy=True`` was given; then they are
:class:`bytes`. Dates are aware :class:`datetime.datetime` in UTC. Errors
are :class:`phonebridge.MalformedPDU` with ``.offset``.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import _phonebridge

__all__ = [
    "ContentType",
    "Part",
    "Header",
    "Message",
    "Push",
    "Attachment",
    "OutgoingMessage",
    "new_transaction_id",
    "decode",
    "decode_push",
    "decode_wap_push",
    "encode_wap_push",
    "encode_notifyresp",
    "encode_ack",
    "encode_read_rec",
    "encode_send_req",
    "encode_retrieve_conf",
    "encode_notification",
    "safe_filename",
    "guess_content_type",
    "token_name",
    "WAP_PUSH_PORT",
    "STATUS_EXPIRED", "STATUS_RETRIEVED", "STATUS_REJECTED", "STATUS_DEFERRED",
    "STATUS_UNRECOGNISED", "READ_STATUS_READ", "READ_STATUS_DELETED",
    "PRIORITY_LOW", "PRIORITY_NORMAL", "PRIORITY_HIGH",
]

WAP_PUSH_PORT = 2948
STATUS_EXPIRED, STATUS_RETRIEVED, STATUS_REJECTED, STATUS_DEFERRED, STATUS_UNRECOGNISED = \
    128, 129, 130, 131, 132
READ_STATUS_READ, READ_STATUS_DELETED = 128, 129
PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH = 128, 129, 130

Body = Union[bytes, memoryview]
_Buffer = Union[bytes, bytearray, memoryview]


def _dt(seconds: Optional[int]) -> Optional[datetime.datetime]:
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def _when(t: Optional[Tuple[bool, int]]) -> Union[None, datetime.datetime, datetime.timedelta]:
    """An expiry or delivery time: a datetime, or a timedelta from receipt."""
    if t is None:
        return None
    relative, value = t
    return datetime.timedelta(seconds=value) if relative else _dt(value)


@dataclass(frozen=True)
class ContentType:
    media_type: str
    charset: Optional[str]
    charset_mib: int
    start: Optional[str]
    type: Optional[str]
    name: Optional[str]
    params: Tuple[Tuple[str, str], ...]

    def __str__(self) -> str:
        return self.media_type


def _ct(d: Optional[Dict[str, Any]]) -> Optional[ContentType]:
    if d is None:
        return None
    return ContentType(d["media_type"] or "", d["charset"], d["charset_mib"], d["start"], d["type"],
                       d["name"], tuple(d["params"]))


@dataclass(frozen=True)
class Part:
    """One part of a multipart body (nested multiparts flattened, parent first)."""

    content_type: ContentType
    name: Optional[str]
    """the name the sender gave: display only, never a path"""
    filename: str
    """a safe, unique file name with an extension"""
    content_id: Optional[str]
    content_location: Optional[str]
    transfer_encoding: Optional[str]
    body: Body
    offset: int
    parent: int
    depth: int
    is_multipart: bool
    is_root: bool
    is_text: bool
    is_media: bool
    is_smil: bool
    headers: Tuple[Tuple[str, Union[str, bytes]], ...]
    text: Optional[str] = None
    """the body as text (text parts only), converted from its charset"""

    @property
    def charset(self) -> Optional[str]:
        return self.content_type.charset

    @property
    def media_type(self) -> str:
        return self.content_type.media_type

    @property
    def sha256(self) -> str:
        """SHA-256 of the (transfer-decoded) body, in hex."""
        return hashlib.sha256(self.body).hexdigest()

    def __bytes__(self) -> bytes:
        return bytes(self.body)


@dataclass(frozen=True)
class Header:
    """One header as decoded: field number (-1 textual), name, kind, value
    (int, str or raw bytes), its text (token names), known to the decoder."""

    field: int
    name: Optional[str]
    kind: int
    value: Union[int, str, bytes, None]
    text: Optional[str]
    known: bool


@dataclass(frozen=True)
class Message:
    """A decoded MMS PDU. Absent fields are None (tokens: 0)."""

    message_type: int
    type_name: Optional[str]
    """"m-retrieve-conf", "m-notification-ind", ..."""
    version: int
    transaction_id: Optional[str]
    message_id: Optional[str]
    from_: Optional[str]
    from_insert_address: bool
    to: Tuple[str, ...]
    cc: Tuple[str, ...]
    bcc: Tuple[str, ...]
    subject: Optional[str]
    date: Optional[datetime.datetime]
    content_location: Optional[str]
    message_size: Optional[int]
    expiry: Union[None, datetime.datetime, datetime.timedelta]
    delivery_time: Union[None, datetime.datetime, datetime.timedelta]
    message_class: Optional[str]
    priority: int
    delivery_report: int
    read_report: int
    report_allowed: int
    status: int
    status_text: Optional[str]
    response_status: int
    response_text: Optional[str]
    retrieve_status: int
    retrieve_text: Optional[str]
    retrieve_ok: bool
    read_status: int
    content_class: Optional[str]
    content_type: Optional[ContentType]
    headers: Tuple[Header, ...]
    parts: Tuple[Part, ...]
    root_part: int
    body: Optional[Body]
    text: str
    """every text part that is not SMIL, in order, separated by a blank line"""
    incomplete: bool = False
    """only with ``salvage=True``: the PDU was cut short; this is what could be read"""
    warning: Optional[str] = None
    """what decoding let pass or left out (junk after the last header, a cut), or None"""
    warning_offset: int = 0

    @property
    def media_parts(self) -> Tuple[Part, ...]:
        """Parts that carry media: not text, not SMIL, not containers."""
        return tuple(p for p in self.parts if p.is_media)

    @property
    def text_parts(self) -> Tuple[Part, ...]:
        return tuple(p for p in self.parts if p.is_text)

    @property
    def version_string(self) -> str:
        return f"{self.version >> 4}.{self.version & 0xF}"


def _message(d: Dict[str, Any]) -> Message:
    parts = tuple(Part(_ct(p["content_type"]), p["name"], p["filename"], p["content_id"],  # type: ignore[arg-type]
                       p["content_location"], p["transfer_encoding"], p["body"], p["offset"],
                       p["parent"], p["depth"], p["is_multipart"], p["is_root"], p["is_text"],
                       p["is_media"], p["is_smil"], tuple(p["headers"]), p.get("text"))
                  for p in d["parts"])
    return Message(
        d["message_type"], d["type_name"], d["version"], d["transaction_id"], d["message_id"],
        d["from"], d["from_insert_address"], d["to"], d["cc"], d["bcc"], d["subject"],
        _dt(d["date"]), d["content_location"], d["message_size"], _when(d["expiry"]),
        _when(d["delivery_time"]), d["message_class"], d["priority"], d["delivery_report"],
        d["read_report"], d["report_allowed"], d["status"], d["status_text"],
        d["response_status"], d["response_text"], d["retrieve_status"], d["retrieve_text"],
        d["retrieve_ok"], d["read_status"], d["content_class"], _ct(d["content_type"]),
        tuple(Header(*h) for h in d["headers"]), parts, d["root_part"], d["body"], d["text"],
        d["incomplete"], d["warning"], d["warning_offset"])


@dataclass(frozen=True)
class Push:
    """A connectionless WSP push PDU. ``kind``: "mms", "si", "sl",
    "provisioning", ... or "other"."""

    tid: int
    pdu_type: int
    kind: str
    content_type: ContentType
    app_id: int
    app_id_name: Optional[str]
    headers: Tuple[Tuple[str, Union[str, bytes]], ...]
    body: Body
    body_offset: int


def _push(d: Dict[str, Any]) -> Push:
    return Push(d["tid"], d["pdu_type"], d["kind"], _ct(d["content_type"]), d["app_id"],  # type: ignore[arg-type]
                d["app_id_name"], tuple(d["headers"]), d["body"], d["body_offset"])


def decode(pdu: _Buffer, headers_only: bool = False, copy: bool = False,
           salvage: bool = False) -> Message:
    """Decode an MMS PDU (an MMSC's HTTP response body, or a push's body).

    ``headers_only``: leave the body undecoded. ``copy``: part bodies as
    bytes instead of memoryviews of ``pdu``. A PDU cut short (a text without
    its NUL, fewer parts than declared, a mandatory header missing) is
    MalformedPDU, unless ``salvage`` asks for what can be read: then
    ``incomplete`` is True and ``warning`` says what was left out.
    """
    return _message(_phonebridge.mms_decode(pdu, headers_only, copy, salvage))


def decode_push(pdu: _Buffer, copy: bool = False, salvage: bool = False) -> Tuple[Message, Push]:
    """Decode a WAP push carrying an MMS PDU (M-Notification.ind,
    M-Delivery.ind, M-Read-Orig.ind) from its TID byte; MalformedPDU for a
    push that is not for MMS. ``salvage``: as for :func:`decode` (a
    notification whose Content-Location a router cut)."""
    m, p = _phonebridge.mms_decode_push(pdu, copy, salvage)
    return _message(m), _push(p)


def decode_wap_push(pdu: _Buffer, copy: bool = False) -> Push:
    """Decode any connectionless WSP push PDU."""
    return _push(_phonebridge.wsp_push_decode(pdu, copy))


def encode_wap_push(body: _Buffer, content_type: str = "application/vnd.wap.mms-message",
                    app_id: int = 4, tid: int = 0) -> bytes:
    """Build a push PDU carrying ``body`` as a carrier would (tests, emulators)."""
    return _phonebridge.wsp_push_encode(tid, content_type, app_id, body)


def _yesno(v: Optional[bool]) -> int:
    return 0 if v is None else (128 if v else 129)


def encode_notifyresp(transaction_id: str, status: int = STATUS_RETRIEVED,
                      report_allowed: Optional[bool] = None) -> bytes:
    """M-NotifyResp.ind: the answer to an M-Notification.ind."""
    return _phonebridge.mms_encode_notifyresp(transaction_id, status, _yesno(report_allowed))


def encode_ack(transaction_id: str, report_allowed: Optional[bool] = None) -> bytes:
    """M-Acknowledge.ind, sent after a deferred retrieval."""
    return _phonebridge.mms_encode_ack(transaction_id, _yesno(report_allowed))


def _seconds(date: Union[None, int, datetime.datetime]) -> int:
    if date is None:
        return 0
    if isinstance(date, datetime.datetime):
        if date.tzinfo is None:
            raise ValueError("naive datetime: give a timezone")
        return int(date.timestamp())
    return int(date)


def encode_read_rec(message_id: str, to: str, from_: Optional[str] = None,
                    date: Union[None, int, datetime.datetime] = None,
                    read_status: int = READ_STATUS_READ) -> bytes:
    """M-Read-Rec.ind: the read report for a received message (``from_`` None:
    the MMSC fills in our number)."""
    return _phonebridge.mms_encode_read_rec(message_id, to, from_, _seconds(date), read_status)


@dataclass(frozen=True)
class Attachment:
    """An attachment of an outgoing message."""

    data: _Buffer
    content_type: Optional[str] = None
    """None: guessed from the name"""
    name: Optional[str] = None
    charset: Optional[str] = None

    @classmethod
    def from_file(cls, path: Union[str, "os.PathLike[str]"], content_type: Optional[str] = None,
                  name: Optional[str] = None) -> "Attachment":
        with open(path, "rb") as f:
            data = f.read()
        return cls(data, content_type, name or os.path.basename(os.fspath(path)))


_EncodedAttachment = Tuple[str, Optional[str], _Buffer, Optional[str]]
# the arguments of _phonebridge.mms_encode_send_req up to the attachments
_SendReqArgs = Tuple[str, Optional[str], List[str], List[str], List[str], Optional[str], int, int,
                     int, int, int, Optional[str], Optional[str], List[_EncodedAttachment]]


def _attachments(atts: Sequence[Union[Attachment, str, "os.PathLike[str]", bytes]]
                 ) -> List[_EncodedAttachment]:
    out: List[_EncodedAttachment] = []
    for a in atts:
        if isinstance(a, (bytes, bytearray, memoryview)):
            a = Attachment(a, "application/octet-stream")
        elif not isinstance(a, Attachment):
            a = Attachment.from_file(a)
        ct = a.content_type or guess_content_type(a.name or "")
        out.append((ct, a.name, a.data, a.charset))
    return out


def _send_req_args(transaction_id: str, to: Sequence[str], text: Optional[str],
                   attachments: Sequence[Any], from_: Optional[str], cc: Sequence[str],
                   bcc: Sequence[str], subject: Optional[str],
                   date: Union[None, int, datetime.datetime],
                   expiry: Union[None, int, datetime.timedelta], delivery_report: Optional[bool],
                   read_report: Optional[bool], priority: int,
                   message_class: Optional[str]) -> _SendReqArgs:
    if isinstance(to, str):
        to = [to]
    exp = int(expiry.total_seconds()) if isinstance(expiry, datetime.timedelta) else int(expiry or 0)
    return (transaction_id, from_, list(to), list(cc), list(bcc), subject, _seconds(date), exp,
            _yesno(delivery_report), _yesno(read_report), priority, message_class, text,
            _attachments(attachments))


def encode_send_req(transaction_id: str, to: Sequence[str], text: Optional[str] = None,
                    attachments: Sequence[Any] = (), *, from_: Optional[str] = None,
                    cc: Sequence[str] = (), bcc: Sequence[str] = (),
                    subject: Optional[str] = None,
                    date: Union[None, int, datetime.datetime] = None,
                    expiry: Union[None, int, datetime.timedelta] = None,
                    delivery_report: Optional[bool] = None, read_report: Optional[bool] = None,
                    priority: int = 0, message_class: Optional[str] = None) -> bytes:
    """M-Send.req with a multipart/related body: a generated SMIL, ``text``
    and each attachment (an :class:`Attachment`, a file path, or bytes)."""
    args = _send_req_args(transaction_id, to, text, attachments, from_, cc, bcc, subject, date,
                          expiry, delivery_report, read_report, priority, message_class)
    return _phonebridge.mms_encode_send_req(*args, None, False)


def new_transaction_id() -> str:
    """A fresh X-Mms-Transaction-Id ("pb" and 16 random hex digits)."""
    return "pb" + secrets.token_hex(8)


@dataclass
class OutgoingMessage:
    """An MMS to send, built in Python: give it to
    :meth:`phonebridge.mmsc.Client.send` (which encodes it with the
    library's M-Send.req encoder) or :meth:`encode` it yourself::

        msg = mms.OutgoingMessage(["+15550102000"], text="Look!", subject="Photo")
        msg.attach(open("cat.jpg", "rb").read(), "image/jpeg", "cat.jpg")
        conf = mmsc_client.send(msg)

    The body is multipart/related: a generated SMIL presentation, ``text``
    as a UTF-8 text/plain part, then each attachment. ``to``, ``cc`` and
    ``bcc`` are numbers (+E.164 gets /TYPE=PLMN) or e-mail addresses;
    ``from_`` None lets the MMSC fill in our number. ``transaction_id`` None:
    a fresh one for each encoding.
    """

    to: Sequence[str]
    text: Optional[str] = None
    attachments: List[Union[Attachment, str, "os.PathLike[str]", bytes]] = field(default_factory=list)
    subject: Optional[str] = None
    from_: Optional[str] = None
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    date: Union[None, int, datetime.datetime] = None
    expiry: Union[None, int, datetime.timedelta] = None
    delivery_report: Optional[bool] = None
    read_report: Optional[bool] = None
    priority: int = 0
    message_class: Optional[str] = None
    transaction_id: Optional[str] = None

    def attach(self, data: _Buffer, content_type: Optional[str] = None, name: Optional[str] = None,
               charset: Optional[str] = None) -> "OutgoingMessage":
        """Add a part from bytes (``content_type`` None: guessed from
        ``name``); returns the message, so calls chain."""
        self.attachments.append(Attachment(data, content_type, name, charset))
        return self

    def attach_file(self, path: Union[str, "os.PathLike[str]"], content_type: Optional[str] = None,
                    name: Optional[str] = None) -> "OutgoingMessage":
        """Add a file's contents as a part (named after the file)."""
        self.attachments.append(Attachment.from_file(path, content_type, name))
        return self

    def _fields(self, transaction_id: Optional[str] = None) -> Tuple[Any, ...]:
        tid = transaction_id or self.transaction_id or new_transaction_id()
        return _send_req_args(tid, self.to, self.text, self.attachments, self.from_, self.cc,
                              self.bcc, self.subject, self.date, self.expiry,
                              self.delivery_report, self.read_report, self.priority,
                              self.message_class)

    def encode(self, transaction_id: Optional[str] = None) -> bytes:
        """The M-Send.req PDU."""
        return _phonebridge.mms_encode_send_req(*self._fields(transaction_id), None,  # type: ignore[call-arg]
                                                False)


def encode_retrieve_conf(transaction_id: str, to: Sequence[str], text: Optional[str] = None,
                         attachments: Sequence[Any] = (), *, message_id: Optional[str] = None,
                         from_: Optional[str] = None, subject: Optional[str] = None,
                         date: Union[None, int, datetime.datetime] = None,
                         cc: Sequence[str] = ()) -> bytes:
    """M-Retrieve.conf with the same layout: what an MMSC delivers (samples, tests)."""
    args = _send_req_args(transaction_id, to, text, attachments, from_, cc, (), subject, date,
                          None, None, None, 0, None)
    return _phonebridge.mms_encode_send_req(*args, message_id, True)


def encode_notification(transaction_id: str, content_location: str, *,
                        from_: Optional[str] = None, subject: Optional[str] = None,
                        message_class: Optional[str] = None, message_size: int = 0,
                        expiry: int = 0) -> bytes:
    """M-Notification.ind (for emulators and tests)."""
    return _phonebridge.mms_encode_notification(transaction_id, from_, subject, message_class,
                                                message_size, expiry, content_location)


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """A name made safe to use as a file name (basename, no control
    characters or "..", at most 96 bytes)."""
    return _phonebridge.mms_safe_filename(name, fallback)


def guess_content_type(filename: str) -> str:
    """The content type a file name's extension suggests."""
    return _phonebridge.mms_guess_content_type(filename)


def token_name(field: int, value: int) -> Optional[str]:
    """The spec's text of a status token, e.g. ``token_name(0x19, 226)`` ->
    "Error-permanent-message-not-found"; None when unknown."""
    return _phonebridge.mms_token_name(field, value)
