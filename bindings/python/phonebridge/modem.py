"""SMS through a modem: Huawei HiLink routers, AT modems, SMSEagle devices.

    from phonebridge import modem

    with modem.open("hilink", url="http://192.168.8.1", username="admin",
                    password_file="/etc/pb/router.pw") as m:
        print(m.status().operator)
        m.send("+15550102000", "hello")
        for ev in m.watch(new_only=True):     # blocks; m.stop() from another thread ends it
            if ev.message:
                print(ev.message.number, ev.message.text)
                m.delete(ev.message.id)

Every call that talks to the box releases the GIL; one call at a time runs
on a modem (the others wait). Credential files must be mode 0600 or stricter
(AuthError otherwise).
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Union

from . import _phonebridge

__all__ = ["open", "Modem", "Message", "Status", "WatchEvent", "Watch", "INBOX", "SENT"]

INBOX = 1
SENT = 2
_Path = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Status:
    operator: str                  #: "" when unknown
    registration: str              #: "home", "roaming", "searching", ...
    network_type: str              #: "LTE", "UMTS", ... or ""
    signal_dbm: Optional[int]
    signal_percent: Optional[int]
    sim: str                       #: "ready", "pin", ...


@dataclass(frozen=True)
class Message:
    id: Optional[str]
    type: str                      #: "text", "mms", "report", "incomplete", "unknown", "garbled", "pdu"
    state: str                     #: "unread", "read", "sent", "unsent", "unknown"
    box_type: int
    number: Optional[str]
    text: Optional[str]
    time: Optional[str]            #: "YYYY-MM-DD HH:MM:SS", the box's local time
    raw: Optional[bytes]
    raw_format: int
    content_location: Optional[str]
    error: Optional[str]


@dataclass(frozen=True)
class WatchEvent:
    """One event of a watch: a new message, or a (recoverable) error or recovery."""

    event: str                     #: "message", "error", "recovered"
    message: Optional[Message] = None
    code: Optional[int] = None     #: error: the PB_E* code
    name: Optional[str] = None     #: error: its name
    text: Optional[str] = None     #: error: what went wrong


def _event(d: Dict[str, Any]) -> WatchEvent:
    if d["event"] == "message":
        return WatchEvent("message", message=Message(**d["message"]))
    return WatchEvent(d["event"], code=d.get("code"), name=d.get("name"), text=d.get("text"))


def open(backend: str, *, url: Optional[str] = None, device: Optional[str] = None,
         username: Optional[str] = None, password_file: Optional[_Path] = None,
         token_file: Optional[_Path] = None, timeout_ms: int = 0, poll_interval_ms: int = 0,
         insecure_tls: bool = False, ca_file: Optional[str] = None, login: Optional[str] = None,
         storage: Optional[str] = None, baud: int = 0, webhook: Optional[str] = None,
         modem_no: int = 0) -> "Modem":
    """Open backend ``"hilink"`` (``url``, ``username``, ``password_file``,
    ``login``), ``"at"`` (``device``, ``baud``, ``storage``) or ``"smseagle"``
    (``url``, ``token_file``, ``webhook``) and connect. NotFoundError for an
    unknown backend, AuthError for refused credentials or an open credential
    file."""
    fs = (lambda p: os.fspath(p) if p is not None else None)
    return Modem(_phonebridge.Modem(backend, url, device, username, fs(password_file),
                                    fs(token_file), timeout_ms, poll_interval_ms, insecure_tls,
                                    ca_file, login, storage, baud, webhook, modem_no))


class Modem:
    """An open modem. Close it with :meth:`close` or a ``with`` block."""

    def __init__(self, handle: "_phonebridge.Modem") -> None:
        self._m = handle

    def __enter__(self) -> "Modem":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop a running watch, wait for it, and close the handle."""
        self._m.close()

    @property
    def backend(self) -> Optional[str]:
        return self._m.backend

    def status(self) -> Status:
        return Status(**self._m.status())

    def list(self, box: int = INBOX) -> List[Message]:
        """The messages in ``box`` (:data:`INBOX` or :data:`SENT`); nothing is deleted or marked read."""
        return [Message(**d) for d in self._m.list(box)]

    def read(self, id: str) -> Message:
        return Message(**self._m.read(id))

    def delete(self, id: str) -> None:
        """Delete a message ("3,4" deletes the parts of a joined message)."""
        self._m.delete(id)

    def mark_read(self, id: str) -> None:
        self._m.mark_read(id)

    def send(self, number: str, text: str, *, report: bool = False) -> Optional[int]:
        """Send a text (split and encoded as needed); the box's reference or None."""
        return self._m.send(number, text, report=report)

    def send_pdu(self, tpdu: bytes) -> Optional[int]:
        """Send a raw SMS-SUBMIT TPDU where the backend can (AT)."""
        return self._m.send_pdu(tpdu)

    def watch_with(self, callback: "Any", *, new_only: bool = False, duration_ms: int = -1) -> bool:
        """Watch in this thread, calling ``callback(WatchEvent)`` for each event
        until it returns True (then True is returned), :meth:`stop`, or
        ``duration_ms`` passes. An exception from ``callback`` ends the watch
        and propagates."""
        return self._m.watch(lambda d: callback(_event(d)), new_only=new_only,
                             duration_ms=duration_ms)

    def watch(self, *, new_only: bool = False, duration_ms: int = -1) -> "Watch":
        """An iterator over :class:`WatchEvent` (a watch running in a helper
        thread); it ends after :meth:`stop`, ``duration_ms``, or when closed."""
        return Watch(self, new_only, duration_ms)

    def stop(self) -> None:
        """End a running watch soon, or the next one at once when none is
        running (the C library keeps a stop until a watch consumes it).
        Any thread."""
        self._m.stop()


_END = object()


class Watch:
    """Iterator over a modem's events. ``close()`` (or leaving a ``with``
    block, or breaking out of a ``for`` loop and dropping it) stops the watch."""

    def __init__(self, m: Modem, new_only: bool, duration_ms: int) -> None:
        self._modem = m
        self._q: "queue.Queue[Any]" = queue.Queue()
        self._error: Optional[BaseException] = None
        self._t = threading.Thread(target=self._run, args=(new_only, duration_ms),
                                   name="phonebridge-modem-watch", daemon=True)
        self._t.start()

    def _run(self, new_only: bool, duration_ms: int) -> None:
        try:
            self._modem._m.watch(self._q.put, new_only=new_only, duration_ms=duration_ms)
        except BaseException as e:  # handed to the iterating thread
            self._error = e
        finally:
            self._q.put(_END)

    def __iter__(self) -> Iterator[WatchEvent]:
        return self

    def __next__(self) -> WatchEvent:
        item = self._q.get()
        if item is _END:
            self._q.put(_END)  # stay ended
            if self._error is not None:
                e, self._error = self._error, None
                raise e
            raise StopIteration
        return _event(item)

    def close(self) -> None:
        """Stop the watch and wait for its thread."""
        if self._t.is_alive():
            self._modem.stop()  # kept by the C library even if the watch has not started yet
            self._t.join()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._t.is_alive():
                self._modem.stop()
        except Exception:
            pass
