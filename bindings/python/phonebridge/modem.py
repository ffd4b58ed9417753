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
on a modem (the others wait). A watch waits while an event is handled, so
the loop above may delete, send and so on. Credential files must be mode
0600 or stricter (AuthError otherwise).

A backend can be written in Python: subclass :class:`Backend`, register it
with :func:`register_backend`, and :func:`open` (and the C library's watch)
drive it like a built-in one.
"""

from __future__ import annotations

import enum
import os
import queue
import threading
import warnings
import weakref
from dataclasses import dataclass
from typing import (Any, Callable, ClassVar, Dict, Iterable, Iterator, List, Optional, Type,
                    TypeVar, Union)

from . import _phonebridge

__all__ = ["open", "Modem", "Message", "Status", "Forward", "ForwardReason", "WatchEvent", "Watch",
           "INBOX", "SENT", "Backend", "BackendOptions", "register_backend",
           "registration_name", "sim_name", "message_type_name", "message_state_name"]

INBOX = 1
SENT = 2
_Path = Union[str, "os.PathLike[str]"]


class ForwardReason(enum.IntEnum):
    """Call-forwarding reasons (TS 27.007 +CCFC <reason>)."""

    UNCONDITIONAL = 0
    BUSY = 1
    NO_REPLY = 2
    NOT_REACHABLE = 3
    ALL = 4
    ALL_CONDITIONAL = 5


def registration_name(value: int) -> str:
    """Name of a registration value (+CREG <stat>): "home", "roaming", ..."""
    return _phonebridge.modem_reg_name(value)


def sim_name(value: int) -> str:
    """Name of a SIM state: "ready", "pin", "puk", "absent", ..."""
    return _phonebridge.modem_sim_name(value)


def message_type_name(value: int) -> str:
    """Name of a message type: "text", "mms", "report", ..."""
    return _phonebridge.modem_msg_type_name(value)


def message_state_name(value: int) -> str:
    """Name of a message state: "unread", "read", "sent", ..."""
    return _phonebridge.modem_msg_state_name(value)


@dataclass(frozen=True)
class Status:
    """What the box says about its network (a :class:`Backend` returns one too)."""

    operator: str = ""             #: "" when unknown
    registration: str = "unknown"  #: "home", "roaming", "searching", ...
    network_type: str = ""         #: "LTE", "UMTS", ... or ""
    signal_dbm: Optional[int] = None
    signal_percent: Optional[int] = None
    sim: str = "unknown"           #: "ready", "pin", ...


@dataclass(frozen=True)
class Message:
    """One entry of a box (a :class:`Backend` returns these too)."""

    id: Optional[str]
    type: str = "text"             #: "text", "mms", "report", "incomplete", "unknown", "garbled", "pdu"
    state: str = "unread"          #: "unread", "read", "sent", "unsent", "unknown"
    box_type: int = -1
    number: Optional[str] = None
    text: Optional[str] = None
    time: Optional[str] = None     #: "YYYY-MM-DD HH:MM:SS", the box's local time
    raw: Optional[bytes] = None
    raw_format: int = 0            #: what raw holds (PB_MODEM_RAW_*: 1 PDU, 2 push, 3 content, 4 entry, 5 file)
    content_location: Optional[str] = None
    error: Optional[str] = None


@dataclass(frozen=True)
class Forward:
    """State of one call-forwarding rule."""

    reason: int                    #: a :class:`ForwardReason`
    active: bool
    number: Optional[str] = None   #: the target, None when none
    no_reply_s: Optional[int] = None  #: NO_REPLY: seconds before forwarding


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


def _fspath(p: Optional[_Path]) -> Optional[str]:
    return os.fspath(p) if p is not None else None


def open(backend: str, *, url: Optional[str] = None, device: Optional[str] = None,
         username: Optional[str] = None, password_file: Optional[_Path] = None,
         token_file: Optional[_Path] = None, timeout_ms: int = 0, poll_interval_ms: int = 0,
         tls_insecure: bool = False, ca_file: Optional[str] = None, login: Optional[str] = None,
         storage: Optional[str] = None, baud: int = 0, webhook: Optional[str] = None,
         modem_no: int = 0, insecure_tls: Optional[bool] = None) -> "Modem":
    """Open backend ``"hilink"`` (``url``, ``username``, ``password_file``,
    ``login``), ``"at"`` (``device``, ``baud``, ``storage``) or ``"smseagle"``
    (``url``, ``token_file``, ``webhook``) and connect. NotFoundError for an
    unknown backend, AuthError for refused credentials or an open credential
    file. ``tls_insecure`` turns TLS verification off; ``insecure_tls`` is its
    old spelling (deprecated)."""
    if insecure_tls is not None:
        warnings.warn("insecure_tls is deprecated (removed in 1.0): use tls_insecure", DeprecationWarning, stacklevel=2)
        tls_insecure = insecure_tls
    return Modem(_phonebridge.Modem(backend, url, device, username, _fspath(password_file),
                                    _fspath(token_file), timeout_ms, poll_interval_ms, tls_insecure,
                                    ca_file, login, storage, baud, webhook, modem_no))


class Modem:
    """An open modem. Close it with :meth:`close` or a ``with`` block."""

    def __init__(self, handle: "_phonebridge.Modem") -> None:
        self._m = handle
        self._watches: "weakref.WeakSet[Watch]" = weakref.WeakSet()

    def __enter__(self) -> "Modem":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop a running watch, wait for it, and close the handle."""
        for w in list(self._watches):
            w._release()  # a watch paused for its consumer would never end
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
        """Send a text (split and encoded as needed); the box's reference or None.

        A failure says what it left behind (pb_modem_send_fate(), docs/modems.md):
        a timeout error means the box got the request but no answer came, so the
        message may have gone out; a protocol error (the box refused it) means
        nothing left; any other error (I/O, not found, busy) means nothing left
        and it may be tried again."""
        return self._m.send(number, text, report=report)

    def send_pdu(self, tpdu: bytes) -> Optional[int]:
        """Send a raw SMS-SUBMIT TPDU where the backend can (AT)."""
        return self._m.send_pdu(tpdu)

    def forward_query(self, reason: int) -> Forward:
        """The call-forwarding rule for ``reason`` (a :class:`ForwardReason`),
        voice class (AT+CCFC). UnsupportedError where the backend cannot."""
        d = self._m.forward_query(int(reason))
        return Forward(ForwardReason(d["reason"]), d["active"], d["number"], d["no_reply_s"])

    def forward_set(self, reason: int, number: Optional[str], *,
                    no_reply_s: Optional[int] = None) -> None:
        """Forward calls for ``reason`` to ``number`` (register and enable),
        or erase the rule when ``number`` is None. ``no_reply_s`` (5-30) for
        :attr:`ForwardReason.NO_REPLY`. InvalidArgument for a number that is
        not one."""
        self._m.forward_set(int(reason), number, -1 if no_reply_s is None else no_reply_s)

    def ussd(self, code: str) -> str:
        """Send a USSD code ("*100#") and return the network's answer."""
        return self._m.ussd(code)

    def watch_with(self, callback: Callable[[WatchEvent], Any], *, new_only: bool = False, duration_ms: int = -1) -> bool:
        """Watch in this thread, calling ``callback(WatchEvent)`` for each event
        until it returns True (then True is returned), :meth:`stop`, or
        ``duration_ms`` passes (-1: no limit). An exception from ``callback`` ends the watch
        and propagates. The watch is paused while ``callback`` runs, which
        may use this modem (delete the message it has stored, send, ...)."""
        return self._m.watch(lambda d: callback(_event(d)), new_only=new_only,
                             duration_ms=duration_ms)

    def watch(self, *, new_only: bool = False, duration_ms: int = -1) -> "Watch":
        """An iterator over :class:`WatchEvent` (a watch running in a helper
        thread); it ends after :meth:`stop`, ``duration_ms`` (-1: no limit), or when closed.
        The watch waits while the loop body handles an event, so the body
        may use this modem (delete the message it has stored, send, ...)."""
        w = Watch(self, new_only, duration_ms)
        self._watches.add(w)
        return w

    def stop(self) -> None:
        """End a running watch soon, or the next one at once when none is
        running (the C library keeps a stop until a watch consumes it).
        Any thread."""
        self._m.stop()


_END = object()


class Watch:
    """Iterator over a modem's events. ``close()`` (or leaving a ``with``
    block) stops the watch; so does closing the modem.

    The C watch runs in a helper thread and hands each event over, then
    waits until the consumer asks for the next one (the handle is free for
    the consumer's calls meanwhile): an event is never reported before the
    previous one was handled."""

    def __init__(self, m: Modem, new_only: bool, duration_ms: int) -> None:
        self._modem = m
        self._q: "queue.Queue[Any]" = queue.Queue()
        self._resume = threading.Event()
        self._released = False
        self._handed = False  # an event went to the consumer: the next __next__ resumes the watch
        self._error: Optional[BaseException] = None
        self._t = threading.Thread(target=self._run, args=(new_only, duration_ms),
                                   name="phonebridge-modem-watch", daemon=True)
        self._t.start()

    def _run(self, new_only: bool, duration_ms: int) -> None:
        try:
            self._modem._m.watch(self._deliver, new_only=new_only, duration_ms=duration_ms)
        except BaseException as e:  # handed to the iterating thread
            self._error = e
        finally:
            self._q.put(_END)

    def _deliver(self, d: Dict[str, Any]) -> bool:
        """The C watch's callback (helper thread): hand the event over and
        wait until it is handled. True stops the watch."""
        if self._released:
            return True
        self._resume.clear()
        self._q.put(d)
        self._resume.wait()
        return self._released

    def _release(self) -> None:
        """Let a paused watch go on and stop at once (no more consumer)."""
        self._released = True
        self._resume.set()

    def __iter__(self) -> Iterator[WatchEvent]:
        return self

    def __next__(self) -> WatchEvent:
        # the previous event is handled; not before the first one came out:
        # the helper thread may have handed that one over (and be waiting
        # for it to be handled) before the loop asked for it
        if self._handed:
            self._resume.set()
        item = self._q.get()
        if item is _END:
            self._q.put(_END)  # stay ended
            if self._error is not None:
                e, self._error = self._error, None
                raise e
            raise StopIteration
        self._handed = True
        return _event(item)

    def close(self) -> None:
        """Stop the watch and wait for its thread."""
        if self._t.is_alive():
            self._modem.stop()  # kept by the C library even if the watch has not started yet
            self._release()
            self._t.join()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- backends written in Python -----------------------------------------------


@dataclass(frozen=True)
class BackendOptions:
    """What :func:`open` was given, as a :class:`Backend`'s constructor gets
    it. The credential files are already read (and checked: mode 0600)."""

    url: Optional[str] = None
    device: Optional[str] = None
    username: Optional[str] = None
    password: Optional[str] = None     #: the contents of ``password_file``
    token: Optional[str] = None        #: the contents of ``token_file``
    timeout_ms: int = 0
    poll_interval_ms: int = 0
    tls_insecure: bool = False
    ca_file: Optional[str] = None
    login: Optional[str] = None
    storage: Optional[str] = None
    baud: int = 0
    webhook: Optional[str] = None
    modem_no: int = 0

    @property
    def insecure_tls(self) -> bool:
        """The old spelling of :attr:`tls_insecure` (deprecated)."""
        warnings.warn("insecure_tls is deprecated (removed in 1.0): use tls_insecure", DeprecationWarning, stacklevel=2)
        return self.tls_insecure


class Backend:
    """A modem backend written in Python.

    Subclass it, set :attr:`name`, implement :meth:`list` and the other
    operations the box can do, and :func:`register_backend` the class. The
    constructor connects (it gets :class:`BackendOptions`); :meth:`close`
    disconnects. The C library calls the methods with the GIL held, on the
    thread that called the :class:`Modem` method (or runs the watch); do not
    call the :class:`Modem` itself from them.

    An operation left as inherited here is "not supported" (the C front end
    then answers UnsupportedError, lists instead of :meth:`read`, polls
    instead of :meth:`wait`). An exception raised by a method becomes the
    error of the call: a PhoneBridgeError keeps its class; NotImplementedError,
    TimeoutError, OSError and MemoryError become UnsupportedError,
    phonebridge.TimeoutError, TransportError and MemoryError; anything else
    PhoneBridgeError. The original exception is the ``__cause__``.
    KeyboardInterrupt and SystemExit come out as themselves (and end a watch).
    """

    name: ClassVar[str] = ""

    def __init__(self, options: BackendOptions) -> None:
        self.options = options

    def close(self) -> None:
        """Disconnect (called once, when the modem is closed)."""

    def list(self, box: int) -> Iterable[Message]:
        """The entries of ``box`` (:data:`INBOX` or :data:`SENT`)."""
        raise NotImplementedError

    def status(self) -> Status:
        raise NotImplementedError

    def read(self, id: str) -> Message:
        raise NotImplementedError

    def delete(self, id: str) -> None:
        """Delete one entry (the C front end splits "3,4" ids)."""
        raise NotImplementedError

    def mark_read(self, id: str) -> None:
        raise NotImplementedError

    def send(self, number: str, text: str, report: bool) -> Optional[int]:
        """Send a text; the box's reference or None. Raise TimeoutError once the
        box may have got the request without answering (it may have gone out),
        and another error only when nothing can have left (docs/modems.md,
        "Send outcomes")."""
        raise NotImplementedError

    def send_pdu(self, tpdu: bytes) -> Optional[int]:
        raise NotImplementedError

    def wait(self, timeout_ms: int, pushed: List[Message]) -> bool:
        """Wait up to ``timeout_ms`` for a sign that the inbox changed (True:
        list it again). Messages the box pushes without storing them are
        appended to ``pushed``."""
        raise NotImplementedError

    def changed(self) -> bool:
        """A cheap check whether the inbox changed since the last call."""
        raise NotImplementedError

    def forward_query(self, reason: int) -> Forward:
        raise NotImplementedError

    def forward_set(self, reason: int, number: Optional[str], no_reply_s: Optional[int]) -> None:
        raise NotImplementedError

    def ussd(self, code: str) -> str:
        raise NotImplementedError


_OPTIONAL = ("status", "read", "delete", "mark_read", "send", "send_pdu", "wait", "changed",
             "forward_query", "forward_set", "ussd")
_B = TypeVar("_B", bound=Type[Backend])


def register_backend(cls: _B, name: Optional[str] = None) -> _B:
    """Register a :class:`Backend` subclass under ``name`` (default
    ``cls.name``) for :func:`open`, for the life of the process; returns the
    class, so it works as a decorator. ExistsError when the name is taken
    (built-in backends included); TooBigError past 16 registrations."""
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError("register_backend: a Backend subclass is required")
    name = name or cls.name
    if not name:
        raise ValueError("register_backend: the backend needs a name")
    ops = [op for op in _OPTIONAL if getattr(cls, op) is not getattr(Backend, op)]

    def factory(options: Dict[str, Any]) -> Backend:
        return cls(BackendOptions(**options))
    _phonebridge.modem_backend_register(name, factory, ops)
    return cls
