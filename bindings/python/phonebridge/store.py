"""The bridge's durable state (SQLite): message journal, attachments, SMS
reassembly parts, key-value state, contacts and groups, screening lists,
attempts and the call log.

    >>> from phonebridge.store import Store, INBOUND, STORED
    >>> with Store("/var/lib/phonebridge/state.db") as st:
    ...     msg_id, new = st.journal.insert(INBOUND, STORED, peer="+4930123456", body="hi")
    ...     st.kv["since"] = "s72594_4483_1934"

Every call releases the GIL while SQLite works (a call may wait up to the
busy timeout for another writer); one handle may be shared by threads (the
calls are serialised). Times are integers as the C library keeps them
(milliseconds unless a method says otherwise). Missing rows raise
:class:`phonebridge.NotFoundError` (a :class:`LookupError`) unless the method
returns None.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, MutableMapping, Optional, Sequence, Tuple, Union

from . import _phonebridge
from .errors import NotFoundError

__all__ = [
    "Store", "JournalRow", "AttachmentInfo", "Contact", "Group", "ListEntry", "Call", "SmsPart", "NumberSettings",
    "SmsPartStore", "SCHEMA_VERSION",
    "INBOUND", "OUTBOUND",
    "RECEIVED", "STORED", "DELIVERED", "QUEUED", "SENDING", "SENT", "UNKNOWN", "FAILED",
    "ALLOW", "DENY", "SRC_MANUAL", "SRC_CHALLENGE", "SRC_CONTACTS", "SRC_OUTGOING",
    "SYNC_FULL", "SYNC_NORMAL", "state_name",
]

SCHEMA_VERSION: int = _phonebridge.STORE_SCHEMA_VERSION
INBOUND, OUTBOUND = 1, 2
RECEIVED, STORED, DELIVERED, QUEUED, SENDING, SENT, UNKNOWN, FAILED = range(1, 9)
ALLOW, DENY = 1, 2
SRC_MANUAL, SRC_CHALLENGE, SRC_CONTACTS, SRC_OUTGOING = 1, 2, 3, 4
SYNC_FULL, SYNC_NORMAL = 0, 1

_PathLike = Union[str, "os.PathLike[str]"]


def state_name(state: int) -> str:
    """"received", "stored", ... for a journal state."""
    return _phonebridge.store_state_name(state)


@dataclass(frozen=True)
class JournalRow:
    id: int
    dir: int
    state: int
    dedup_key: Optional[str]
    backend: Optional[str]
    backend_id: Optional[str]
    peer: Optional[str]
    room: Optional[str]
    event_id: Optional[str]
    body: Optional[str]
    ref: Optional[str]
    last_error: Optional[str]
    attempts: int
    sent_at: int
    created_at: int
    updated_at: int

    @property
    def state_name(self) -> str:
        return state_name(self.state)


@dataclass(frozen=True)
class AttachmentInfo:
    msg_id: int
    seq: int
    sha256: str
    size: int
    content_type: Optional[str]
    name: Optional[str]


@dataclass(frozen=True)
class Contact:
    number: str
    display_name: Optional[str]
    room: Optional[str]
    updated_at: int


@dataclass(frozen=True)
class Group:
    room: str
    numbers: Tuple[str, ...]


@dataclass(frozen=True)
class ListEntry:
    list: int
    source: int
    source_name: str
    created_at: int
    expires_at: int


@dataclass(frozen=True)
class Call:
    id: int
    at: int
    caller: Optional[str]
    attestation: Optional[str]
    verdict: Optional[str]
    challenge: Optional[str]
    duration_ms: int
    forward_target: Optional[str]


@dataclass(frozen=True)
class NumberSettings:
    """One own number's settings (docs/cluster.md): None keeps the default."""
    number: str
    policy: Optional[str]
    forward_target: Optional[str]
    voicemail: Optional[str]
    updated_at: int


@dataclass(frozen=True)
class SmsPart:
    group_key: str
    originator: str
    reference: int
    total: int
    seq: int
    pdu: bytes
    received_at: int


class _Journal:
    """The message journal: one row per message in either direction."""

    def __init__(self, h: "_phonebridge.Store") -> None:
        self._h = h

    def insert(self, dir: int, state: int, *, dedup_key: Optional[str] = None,
               backend: Optional[str] = None, backend_id: Optional[str] = None,
               peer: Optional[str] = None, room: Optional[str] = None,
               event_id: Optional[str] = None, body: Optional[str] = None,
               sent_at: int = 0) -> Tuple[int, bool]:
        """Add a row; ``(id, True)``, or ``(existing id, False)`` when a row
        with the same direction and dedup key is already there."""
        return self._h.msg_insert(dir, state, dedup_key, backend, backend_id, peer, room,
                                  event_id, body, sent_at)

    def transition(self, id: int, to: int, ref: Optional[str] = None,
                   error: Optional[str] = None) -> None:
        """Move a row to state ``to``; StateError for an illegal transition."""
        self._h.msg_transition(id, to, ref, error)

    def release_key(self, id: int) -> None:
        """The inbound row's message has left the box (its deletion is
        confirmed): its dedup key no longer matches, so an identical message
        that comes later is a new row. Idempotent."""
        self._h.msg_release_key(id)

    def get(self, id: int) -> JournalRow:
        return JournalRow(**self._h.msg_get(id))

    def find(self, dir: int, dedup_key: str) -> Optional[JournalRow]:
        try:
            return JournalRow(**self._h.msg_find(dir, dedup_key))
        except NotFoundError:
            return None

    def in_state(self, dir: int, state: int, after_id: int = 0, limit: int = 0) -> List[JournalRow]:
        """Rows of a direction in a state, by id, after ``after_id`` (limit 0: all)."""
        return [JournalRow(**r) for r in self._h.msg_list_state(dir, state, after_id, limit)]

    def count(self, dir: int, state: int) -> int:
        return self._h.msg_count(dir, state)

    def recover(self) -> int:
        """After a crash: rows left SENDING become UNKNOWN. Returns rows changed."""
        return self._h.msg_recover()

    def prune(self, before: int) -> int:
        """Delete finished rows older than ``before``; returns rows removed."""
        return self._h.msg_prune(before)


class _Attachments:
    """Content-addressed attachment files of journal rows."""

    def __init__(self, h: "_phonebridge.Store") -> None:
        self._h = h

    def add(self, msg_id: int, data: Union[bytes, bytearray, memoryview],
            content_type: Optional[str] = None, name: Optional[str] = None) -> str:
        """Store ``data`` for a row; returns its SHA-256 (the file's name)."""
        return self._h.attachment_add(msg_id, data, content_type, name)

    def add_file(self, msg_id: int, path: _PathLike, content_type: Optional[str] = None) -> str:
        with open(path, "rb") as f:
            data = f.read()
        return self.add(msg_id, data, content_type, os.path.basename(os.fspath(path)))

    def list(self, msg_id: int) -> List[AttachmentInfo]:
        return [AttachmentInfo(**a) for a in self._h.attachment_list(msg_id)]

    def read(self, sha256: str) -> bytes:
        """The file's bytes, checked against its hash."""
        return self._h.attachment_read(sha256)

    def path(self, sha256: str) -> str:
        return self._h.attachment_path(sha256)

    def gc(self) -> int:
        """Delete files no row refers to; returns files removed."""
        return self._h.attachment_gc()


class _SmsParts:
    """Parts of concatenated SMS waiting for the rest."""

    def __init__(self, h: "_phonebridge.Store") -> None:
        self._h = h

    def put(self, group_key: str, originator: str, reference: int, total: int, seq: int,
            pdu: Union[bytes, bytearray, memoryview], received_at: int) -> None:
        self._h.sms_part_put(group_key, originator, reference, total, seq, pdu, received_at)

    def __iter__(self) -> Iterator[SmsPart]:
        return iter([SmsPart(*p) for p in self._h.sms_parts()])

    def delete_group(self, group_key: str) -> None:
        self._h.sms_part_delete_group(group_key)

    def expire(self, before: int) -> int:
        return self._h.sms_part_expire(before)


class _KV(MutableMapping[str, str]):
    """Key-value state (sync tokens, cursors) as a mapping."""

    def __init__(self, h: "_phonebridge.Store") -> None:
        self._h = h

    def __getitem__(self, key: str) -> str:
        try:
            return self._h.kv_get(key)
        except NotFoundError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: str) -> None:
        self._h.kv_set(key, value)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._h.kv_delete(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self._h.kv_get(key)
            return True
        except NotFoundError:
            return False

    def __iter__(self) -> Iterator[str]:
        raise TypeError("the store's key-value state cannot be listed")

    def __len__(self) -> int:
        raise TypeError("the store's key-value state cannot be counted")


class _Contacts:
    def __init__(self, h: "_phonebridge.Store") -> None:
        self._h = h

    def set(self, number: str, display_name: Optional[str] = None,
            room: Optional[str] = None) -> None:
        self._h.contact_set(number, display_name, room)

    def get(self, number: str) -> Optional[Contact]:
        try:
            return Contact(**self._h.contact_get(number))
        except NotFoundError:
            return None

    def by_room(self, room: str) -> Optional[Contact]:
        try:
            return Contact(**self._h.contact_by_room(room))
        except NotFoundError:
            return None

    def delete(self, number: str) -> None:
        self._h.contact_delete(number)

    def set_group(self, numbers: Sequence[str], room: str) -> None:
        """A group conversation: these numbers share ``room``."""
        self._h.group_set(list(numbers), room)

    def group(self, numbers: Sequence[str]) -> Optional[Group]:
        try:
            return Group(*self._h.group_by_numbers(list(numbers)))
        except NotFoundError:
            return None

    def group_by_room(self, room: str) -> Optional[Group]:
        try:
            return Group(*self._h.group_by_room(room))
        except NotFoundError:
            return None


class _Lists:
    """Allow and deny lists of the call screening, and caller attempts."""

    def __init__(self, h: "_phonebridge.Store") -> None:
        self._h = h

    def add(self, list: int, number: str, source: int = SRC_MANUAL, expires_at: int = 0) -> None:
        self._h.list_add(list, number, source, expires_at)

    def remove(self, list: int, number: str) -> None:
        self._h.list_remove(list, number)

    def lookup(self, list: int, number: str, now: int = 0) -> Optional[ListEntry]:
        """The entry when ``number`` is on ``list`` at ``now`` (ms; 0: now), else None."""
        e = self._h.list_lookup(list, number, now)
        return None if e is None else ListEntry(**e)

    def expire(self, now: int = 0) -> int:
        return self._h.list_expire(now)

    def record_attempt(self, number: str, at: int = 0, failed: bool = False) -> None:
        self._h.attempt_record(number, at, failed)

    def attempts(self, number: str, since: int, failed_only: bool = False) -> int:
        return self._h.attempt_count(number, since, failed_only)

    def prune_attempts(self, before: int) -> int:
        return self._h.attempt_prune(before)


class _Calls:
    def __init__(self, h: "_phonebridge.Store") -> None:
        self._h = h

    def log(self, caller: Optional[str], *, at: int = 0, attestation: Optional[str] = None,
            verdict: Optional[str] = None, challenge: Optional[str] = None,
            duration_ms: int = 0, forward_target: Optional[str] = None) -> int:
        """Log a screened call; returns its id."""
        return self._h.call_log(at, caller, attestation, verdict, challenge, duration_ms,
                                forward_target)

    def recent(self, limit: int = 0) -> List[Call]:
        """The most recent calls, newest first (limit 0: all)."""
        return [Call(**c) for c in self._h.call_recent(limit)]


class _Numbers:
    """Per-number settings: policy keys ("key=value; ..."), forward target
    and voicemail target of the own numbers a screener answers for."""

    def __init__(self, h: "_phonebridge.Store") -> None:
        self._h = h

    def set(self, number: str, *, policy: Optional[str] = None, forward_target: Optional[str] = None,
            voicemail: Optional[str] = None) -> None:
        """Set (replace) a number's settings."""
        self._h.number_set(number, policy, forward_target, voicemail)

    def get(self, number: str) -> Optional[NumberSettings]:
        n = self._h.number_get(number)
        return None if n is None else NumberSettings(**n)

    def remove(self, number: str) -> None:
        self._h.number_remove(number)

    def __iter__(self) -> Iterator[NumberSettings]:
        return iter([NumberSettings(**n) for n in self._h.number_list()])


class Store:
    """An open store; a context manager that closes it.

    ``synchronous``: :data:`SYNC_FULL` (a commit survives a power loss, the
    default) or :data:`SYNC_NORMAL`. ``attachments_dir``: default
    "<path>.attachments".

    The parts: :attr:`journal`, :attr:`attachments`, :attr:`sms_parts`,
    :attr:`kv` (a mapping), :attr:`contacts` (and groups), :attr:`lists`
    (allow/deny, attempts), :attr:`calls`, :attr:`numbers` (per-number settings).

    ``path`` may be a ``postgresql://`` URL (docs/store.md): the screening
    data only (lists, attempts, calls, kv, numbers), the password read from
    ``password_file``.
    """

    def __init__(self, path: _PathLike, *, synchronous: int = SYNC_FULL,
                 busy_timeout_ms: int = 30000, attachments_dir: Optional[_PathLike] = None,
                 password_file: Optional[_PathLike] = None) -> None:
        self._h = _phonebridge.Store(path, synchronous, busy_timeout_ms,
                                     None if attachments_dir is None else os.fspath(attachments_dir),
                                     None if password_file is None else os.fspath(password_file))
        self.journal = _Journal(self._h)
        self.attachments = _Attachments(self._h)
        self.sms_parts = _SmsParts(self._h)
        self.kv = _KV(self._h)
        self.contacts = _Contacts(self._h)
        self.lists = _Lists(self._h)
        self.calls = _Calls(self._h)
        self.numbers = _Numbers(self._h)

    def close(self) -> None:
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._h.schema_version()

    def check(self) -> None:
        """SQLite's integrity check; raises when the database is damaged."""
        self._h.check()

    def backup(self, path: Union[str, "os.PathLike[str]"]) -> int:
        """Copy the store, also while others write to it: the database (one
        consistent snapshot, SQLite's online backup API) to the new file
        @path and its attachments to "@path.attachments/". Returns how many
        attachment files were copied; ExistsError when @path is there."""
        return self._h.backup(os.fspath(path))

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """Group calls atomically: committed at the end of the block, rolled
        back if it raises. Transactions do not nest."""
        self._h.begin()
        try:
            yield self
        except BaseException:
            self._h.rollback()
            raise
        self._h.commit()


class SmsPartStore:
    """A :class:`phonebridge.sms.PartStore` over a :class:`Store`'s SMS parts,
    so a :class:`phonebridge.sms.Reassembler` survives restarts::

        r = sms.Reassembler(timeout=..., store=SmsPartStore(st))
        r.restore()

    The store's rows keep no decode flags: every part must be added with the
    same ``flags`` (the default: PDUs with their SMSC field), else ValueError.
    """

    SMSC = 0x1

    def __init__(self, store: Store, flags: int = SMSC) -> None:
        self._parts = store.sms_parts
        self._flags = flags

    @staticmethod
    def _key(key: Iterable[Any]) -> str:
        orig, ref, total, dst, src = key
        return f"{orig}\x1f{ref}\x1f{total}\x1f{dst}\x1f{src}"

    def save(self, key: Tuple[str, int, int, int, int], seq: int, pdu: bytes, flags: int,
             received: int) -> None:
        if flags != self._flags:
            raise ValueError(f"SmsPartStore keeps parts decoded with flags {self._flags}, not {flags}")
        self._parts.put(self._key(key), key[0], key[1], key[2], seq, pdu, received)

    def delete(self, key: Tuple[str, int, int, int, int]) -> None:
        self._parts.delete_group(self._key(key))

    def load(self) -> List[Tuple[Tuple[str, int, int, int, int], int, bytes, int, int]]:
        out = []
        for p in self._parts:
            orig, ref, total, dst, src = p.group_key.split("\x1f")
            out.append(((orig, int(ref), int(total), int(dst), int(src)), p.seq, p.pdu,
                        self._flags, p.received_at))
        return out
