"""A Matrix client (client-server API) over libphonebridge's pb_matrix.

Every call that talks to the homeserver releases the GIL while libcurl
works, so other threads run during a long-poll sync; one call at a time runs
on a client (the others wait). :meth:`Client.cancel` stops a running call
from another thread::

    from phonebridge.matrix import Client

    c = Client("https://matrix.example.org", token_file="/etc/pb/token")
    room = c.create_dm("@me:example.org", name="+15550102000")
    c.send_text(room, "hello")
    sync = c.sync_forever(timeout_ms=30000)
    for ev in sync:                 # blocks; stops after c.cancel()
        print(ev.room_id, ev.sender, ev.body)
        save(sync.next_batch)

Errors are the package's exceptions: :class:`~phonebridge.AuthError` for a
refused token or password, :class:`~phonebridge.ForbiddenError` (both an
AuthError and a ProtocolError) when the server answers ``M_FORBIDDEN`` or
HTTP 401/403, :class:`~phonebridge.NotFoundError` for ``M_NOT_FOUND``,
:class:`~phonebridge.CancelledError` after ``cancel()``,
:class:`~phonebridge.TransportError` when the server cannot be reached...
Errors from the homeserver carry ``.errcode`` (``"M_FORBIDDEN"``, or None)
and ``.http_status`` (0 when no answer came).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar, Union

from . import _phonebridge
from .errors import CancelledError, ForbiddenError, PhoneBridgeError, ProtocolError
from .mms import guess_content_type

__all__ = ["Client", "Event", "ImageInfo", "SyncIterator", "SyncResult", "image_info",
           "parse_sync", "read_secret_file"]

_Path = Union[str, "os.PathLike[str]"]
_Buffer = Union[bytes, bytearray, memoryview]
_T = TypeVar("_T")


def _call(fn: Callable[..., _T], *args: Any) -> _T:
    """Call into C; a refusal for lack of permission becomes ForbiddenError."""
    try:
        return fn(*args)
    except ForbiddenError:
        raise
    except ProtocolError as e:
        if getattr(e, "errcode", None) != "M_FORBIDDEN" and \
                getattr(e, "http_status", 0) not in (401, 403):
            raise
        f = ForbiddenError(*e.args)
        f.code, f.name = e.code, e.name
        f.errcode = getattr(e, "errcode", None)  # type: ignore[attr-defined]
        f.http_status = getattr(e, "http_status", 0)  # type: ignore[attr-defined]
        raise f.with_traceback(e.__traceback__) from None


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`image_info` finds in an image's first bytes."""

    width: int
    height: int
    mimetype: str


def image_info(data: _Buffer) -> ImageInfo:
    """The pixel size and MIME type of a PNG, GIF or JPEG image (the
    library's own parser: no image library needed).
    :class:`~phonebridge.UnsupportedError` for other formats,
    :class:`~phonebridge.MalformedPDU` for broken ones."""
    return ImageInfo(*_phonebridge.matrix_image_info(data))


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated (removed in 1.0): use {new}", DeprecationWarning, stacklevel=3)


def _json(value: Union[str, Dict[str, Any]]) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def read_secret_file(path: _Path) -> str:
    """A token or password from a file that only its owner may read
    (AuthError otherwise); one trailing newline is removed."""
    return _phonebridge.matrix_read_secret_file(path)


@dataclass(frozen=True)
class Event:
    """One event of a /sync answer."""

    section: str                 #: "timeline", "state", "invite" or "leave"
    room_id: str
    type: str
    sender: Optional[str]
    event_id: Optional[str]
    state_key: Optional[str]
    origin_server_ts: int
    msgtype: Optional[str]       #: m.room.message: content.msgtype
    body: Optional[str]          #: m.room.message: content.body
    membership: Optional[str]    #: m.room.member: content.membership
    json: str = field(repr=False)  #: the whole event as JSON text
    #: it arrived as m.room.encrypted and was decrypted (see Client.enable_encryption)
    decrypted: bool = False

    @property
    def event(self) -> Dict[str, Any]:
        """The whole event, parsed."""
        ev: Dict[str, Any] = json.loads(self.json)
        return ev

    @property
    def content(self) -> Dict[str, Any]:
        """The event's content object."""
        c = self.event.get("content")
        return c if isinstance(c, dict) else {}


@dataclass(frozen=True)
class SyncResult:
    events: List[Event]
    invites: List[Tuple[str, Optional[str]]]  #: (room_id, inviter)
    leaves: List[str]                           #: rooms left, kicked or banned from
    next_batch: Optional[str]


def parse_sync(body: _Buffer) -> SyncResult:
    """Parse a /sync answer you already have (bytes of its JSON) the way
    :meth:`Client.sync` does; :class:`~phonebridge.MalformedPDU` (with
    ``.offset``) for what is not a /sync answer."""
    events, invites, leaves, next_batch = _phonebridge.matrix_sync_parse(body)
    return SyncResult([Event(**e) for e in events], invites, leaves, next_batch)


class Client:
    """A handle on one homeserver account.

    Credentials: ``token`` (an access token), or ``token_file`` (a file of
    mode 0600 holding it), or ``user`` and ``password_file`` (log in with a
    password read from a 0600 file) — or :meth:`login` later.
    ``homeserver`` None: call :meth:`discover` first.
    ``tls_insecure`` turns certificate checks off, ``discovery_insecure_http``
    makes :meth:`discover` fetch http:// well-known (tests only).
    """

    def __init__(self, homeserver: Optional[str], *, token: Optional[str] = None,
                 token_file: Optional[_Path] = None, user: Optional[str] = None,
                 password_file: Optional[_Path] = None, device_id: Optional[str] = None,
                 user_agent: Optional[str] = None, ca_file: Optional[str] = None,
                 tls_insecure: bool = False, connect_timeout_ms: int = 10000,
                 request_timeout_ms: int = 60000, retry_attempts: int = 6,
                 retry_initial_delay_ms: int = 500, retry_max_delay_ms: int = 30000,
                 discovery_insecure_http: bool = False, max_retries: Optional[int] = None,
                 retry_base_ms: Optional[int] = None, retry_cap_ms: Optional[int] = None) -> None:
        if max_retries is not None:
            _deprecated("max_retries", "retry_attempts (which counts attempts: max_retries + 1)")
            retry_attempts = max_retries + 1
        if retry_base_ms is not None:
            _deprecated("retry_base_ms", "retry_initial_delay_ms")
            retry_initial_delay_ms = retry_base_ms
        if retry_cap_ms is not None:
            _deprecated("retry_cap_ms", "retry_max_delay_ms")
            retry_max_delay_ms = retry_cap_ms
        self._m = _phonebridge.Matrix(
            homeserver, token, os.fspath(token_file) if token_file is not None else None,
            user_agent, ca_file, tls_insecure, connect_timeout_ms, request_timeout_ms,
            retry_attempts, retry_initial_delay_ms, retry_max_delay_ms, discovery_insecure_http)
        if user is not None and password_file is not None:
            password = read_secret_file(password_file)
            self.login(user, password, device_id)
        elif (user is None) != (password_file is None):
            raise ValueError("user and password_file go together")

    # --- account ---
    def discover(self, user_id_or_server: str) -> str:
        """Find the homeserver of a user id or server name through
        .well-known/matrix/client, check it, and use it; returns its URL."""
        return _call(self._m.discover, user_id_or_server)

    def login(self, user: str, password: str, device_id: Optional[str] = None) -> None:
        """Log in with a password (m.login.password); the client then uses the new token."""
        _call(self._m.login_password, user, password, device_id)

    def logout(self) -> None:
        """Invalidate the access token on the server; the client forgets it."""
        _call(self._m.logout)

    def whoami(self) -> str:
        """The user id the token belongs to (AuthError when refused)."""
        return _call(self._m.whoami)

    @property
    def user_id(self) -> Optional[str]:
        return self._m.user_id

    @property
    def device_id(self) -> Optional[str]:
        return self._m.device_id

    @property
    def homeserver(self) -> Optional[str]:
        return self._m.homeserver

    @property
    def access_token(self) -> Optional[str]:
        return self._m.access_token

    @access_token.setter
    def access_token(self, token: Optional[str]) -> None:
        self._m.set_access_token(token)

    @property
    def last_errcode(self) -> str:
        """errcode of the last error answer ("M_FORBIDDEN"), or ""."""
        return self._m.last_errcode or ""

    @property
    def last_status(self) -> int:
        return self._m.last_status

    # --- cancel (any thread) ---
    def cancel(self) -> None:
        """Make a running call (a long-poll sync) and every later one raise
        CancelledError, until :meth:`cancel_reset`. Thread-safe."""
        self._m.cancel()

    def cancel_reset(self) -> None:
        self._m.cancel_reset()

    # --- rooms ---
    def create_dm(self, user_id: str, name: Optional[str] = None) -> str:
        """A new direct room with ``user_id``, recorded in m.direct; its room id."""
        return _call(self._m.create_dm, user_id, name)

    def direct_room(self, user_id: str) -> str:
        """The latest direct room with ``user_id`` (NotFoundError if none)."""
        return _call(self._m.direct_room, user_id)

    def join(self, room_id_or_alias: str) -> str:
        """Join a room by id or alias; the joined room's id."""
        return _call(self._m.join, room_id_or_alias)

    def leave(self, room_id: str) -> None:
        _call(self._m.leave, room_id)

    def invite(self, room_id: str, user_id: str) -> None:
        """Invite ``user_id`` (ForbiddenError when already in the room or not allowed)."""
        _call(self._m.invite, room_id, user_id)

    def set_room_name(self, room_id: str, name: str) -> None:
        """Set m.room.name."""
        _call(self._m.set_name, room_id, name)

    def set_topic(self, room_id: str, topic: str) -> None:
        """Set m.room.topic."""
        _call(self._m.set_topic, room_id, topic)

    def set_avatar(self, room_id: str, mxc_url: str) -> None:
        """Set m.room.avatar to an mxc:// URI (see :meth:`upload`)."""
        _call(self._m.set_avatar, room_id, mxc_url)

    def create_room(self, body: Union[str, Dict[str, Any]]) -> str:
        """``createRoom`` with ``body`` (a dict or JSON text) as given: ``initial_state``,
        ``power_level_content_override``, ``invite``, ... Sent once, never retried (a
        repeat could make a second room); nothing recorded in m.direct. Its room id."""
        return _call(self._m.create_room, _json(body))

    def send_state(self, room_id: str, type: str, content: Union[str, Dict[str, Any]],
                   state_key: str = "") -> str:
        """Send a state event (``content`` a dict or JSON text); its event id."""
        return _call(self._m.send_state, room_id, type, state_key, _json(content))

    # --- messages ---
    def send_text(self, room_id: str, body: str, *, html: Optional[str] = None,
                  txn_id: Optional[str] = None) -> str:
        """Send m.text; returns the event id. The same ``txn_id`` twice sends once."""
        return _call(self._m.send_message, room_id, body, "m.text", html, txn_id)

    def send_notice(self, room_id: str, body: str, *, html: Optional[str] = None,
                    txn_id: Optional[str] = None) -> str:
        """Send m.notice (bots' messages); returns the event id."""
        return _call(self._m.send_message, room_id, body, "m.notice", html, txn_id)

    def send_emote(self, room_id: str, body: str, *, html: Optional[str] = None,
                   txn_id: Optional[str] = None) -> str:
        """Send m.emote ("/me ..."); returns the event id."""
        return _call(self._m.send_message, room_id, body, "m.emote", html, txn_id)

    def send_reaction(self, room_id: str, event_id: str, key: str, *,
                      txn_id: Optional[str] = None) -> str:
        """React to ``event_id`` with ``key`` (e.g. an emoji); returns the reaction's id."""
        return _call(self._m.send_reaction, room_id, event_id, key, txn_id)

    def send_event(self, room_id: str, type: str, content: Union[str, Dict[str, Any]], *,
                   txn_id: Optional[str] = None) -> str:
        """Send any room event with ``content`` (a dict, or JSON text)."""
        return _call(self._m.send_event, room_id, type, _json(content), txn_id)

    def redact(self, room_id: str, event_id: str, reason: Optional[str] = None, *,
               txn_id: Optional[str] = None) -> str:
        """Redact ``event_id``; returns the redaction's event id."""
        return _call(self._m.redact, room_id, event_id, reason, txn_id)

    def typing(self, room_id: str, typing: bool = True, timeout_ms: int = 30000) -> None:
        """Show (or with ``typing=False`` stop showing) that this user types, for
        ``timeout_ms`` (0: 30000)."""
        _call(self._m.typing, room_id, typing, timeout_ms)

    def read_receipt(self, room_id: str, event_id: str) -> None:
        """Mark ``event_id`` (and what came before it) read: an m.read receipt."""
        _call(self._m.read_receipt, room_id, event_id)

    # --- media ---
    def upload(self, data: _Buffer, content_type: Optional[str] = None,
               filename: Optional[str] = None) -> str:
        """Upload bytes; returns the mxc:// URI."""
        return _call(self._m.upload, data, content_type, filename)

    def download(self, mxc_url: str, max_bytes: int = 0) -> Tuple[bytes, Optional[str]]:
        """(bytes, content type) of an mxc:// URI; TooBigError over ``max_bytes`` (0: no limit)."""
        return _call(self._m.download, mxc_url, max_bytes)

    def send_media(self, room_id: str, url: Optional[str], body: str, *, msgtype: Optional[str] = None,
                   filename: Optional[str] = None, mimetype: Optional[str] = None,
                   size: int = 0, width: int = 0, height: int = 0, duration_ms: int = 0,
                   txn_id: Optional[str] = None,
                   file: Union[None, str, Dict[str, Any]] = None) -> str:
        """Send a media message for an uploaded file (``url``, mxc://) with
        its info; ``msgtype`` None: m.image/m.video/m.audio/m.file from
        ``mimetype``. Zero sizes are left out. ``file``: an encrypted
        attachment from :meth:`upload_encrypted`, sent instead of ``url``
        (None then). Returns the event id."""
        return _call(self._m.send_media, room_id, url, body, msgtype, filename, mimetype, size,
                     width, height, duration_ms, txn_id, None if file is None else _json(file))

    def send_bytes(self, room_id: str, data: _Buffer, filename: str, *,
                   mimetype: Optional[str] = None, txn_id: Optional[str] = None) -> str:
        """Upload ``data`` and send it as ``filename`` (e.g. an MMS part):
        the MIME type and pixel size of PNG, GIF and JPEG images are found
        by :func:`image_info`; other types, when not given, are guessed from
        the file name's extension. In an encrypted room (with
        :meth:`enable_encryption`) it goes up as an encrypted attachment.
        Returns the event id."""
        width = height = 0
        try:
            info = image_info(data)
        except (ValueError, PhoneBridgeError):
            info = None
        if info is not None and (mimetype is None or mimetype == info.mimetype):
            width, height, mimetype = info.width, info.height, info.mimetype
        if mimetype is None:
            mimetype = guess_content_type(filename)
        if self.identity_keys is not None and self.room_encrypted(room_id):
            # an encrypted room: the homeserver gets ciphertext only
            return self.send_media(room_id, None, filename, mimetype=mimetype,
                                   size=memoryview(data).nbytes, width=width, height=height,
                                   txn_id=txn_id, file=self.upload_encrypted(data))
        url = self.upload(data, mimetype, filename)
        return self.send_media(room_id, url, filename, mimetype=mimetype,
                               size=memoryview(data).nbytes, width=width, height=height,
                               txn_id=txn_id)

    def send_file(self, room_id: str, path: _Path, *, mimetype: Optional[str] = None,
                  txn_id: Optional[str] = None) -> str:
        """Upload a file and send it (m.image/m.video/m.audio/m.file by type;
        image size filled in); returns the event id."""
        return _call(self._m.send_file, room_id, path, mimetype, txn_id)

    # --- end-to-end encryption ---
    def enable_encryption(self, store_path: _Path, *, pickle_key_file: Optional[_Path] = None,
                          pickle_key: Optional[str] = None) -> None:
        """Give this client an Olm device (login or :meth:`whoami` first):
        its keys and sessions live in the phonebridge store at ``store_path``
        (a :class:`phonebridge.store.Store` file), pickled with the key read
        from ``pickle_key_file`` (mode 0600, 16 bytes or more) or given as
        ``pickle_key``. From then on :meth:`sync` decrypts (``Event.decrypted``)
        and every send to an encrypted room is encrypted. Device verification
        and cross-signing are not implemented."""
        _call(self._m.enable_encryption, os.fspath(store_path), pickle_key,
              os.fspath(pickle_key_file) if pickle_key_file is not None else None)

    @property
    def identity_keys(self) -> Optional[Dict[str, str]]:
        """This device's keys ({"curve25519", "ed25519"}) once encryption is on."""
        return self._m.identity_keys

    def room_encrypted(self, room_id: str) -> bool:
        """Whether the room has m.room.encryption (False when encryption is off)."""
        return _call(self._m.room_encrypted, room_id)

    def upload_encrypted(self, data: _Buffer) -> Dict[str, Any]:
        """Encrypt ``data`` (AES-256-CTR, new key) and upload the ciphertext:
        the ``file`` object (it holds the key) for :meth:`send_media`."""
        f: Dict[str, Any] = json.loads(_call(self._m.upload_encrypted, data))
        return f

    def download_encrypted(self, file: Union[str, Dict[str, Any]], max_bytes: int = 0) -> bytes:
        """The plaintext of an encrypted attachment: the ``file`` object of
        an encrypted m.image/m.file/... content (its SHA-256 is checked)."""
        return _call(self._m.download_encrypted, _json(file), max_bytes)

    # --- application services ---
    def act_as(self, user_id: Optional[str]) -> None:
        """Make every later request act as ``user_id`` (the Application Service
        API's ``user_id=``; the token must be the service's as_token and the user
        in its namespace); ``None`` acts as the service's own user again."""
        _call(self._m.act_as, user_id)

    @property
    def acting_as(self) -> Optional[str]:
        """The user :meth:`act_as` acts as, or None."""
        return self._m.acting_as

    def register_appservice_user(self, localpart: str) -> bool:
        """Register the service's user ``localpart`` (m.login.application_service);
        True when it is new, False when it was registered before."""
        return _call(self._m.register_appservice_user, localpart)

    def set_displayname(self, name: str, user_id: Optional[str] = None) -> None:
        """Set a user's display name (default: the user acted as, else this one)."""
        _call(self._m.set_displayname, name, user_id)

    def set_avatar_url(self, mxc_url: str, user_id: Optional[str] = None) -> None:
        """Set a user's avatar to an mxc:// URI (see :meth:`upload`)."""
        _call(self._m.set_avatar_url, mxc_url, user_id)

    def rooms_state(self, types: Optional[List[str]] = None) -> List[Event]:
        """The current state of every joined room (``section == "state"``), only the
        event ``types`` given: for an application service, which cannot /sync. One
        request per room."""
        return [Event(**e) for e in _call(self._m.rooms_state, types)]

    # --- sync ---
    def upload_filter(self, filter: Union[str, Dict[str, Any]]) -> str:
        """Upload a sync filter (a dict or JSON text); its id, for ``sync(filter=...)``."""
        return _call(self._m.filter_upload, _json(filter))

    def sync(self, since: Optional[str] = None, *,
             filter: Union[None, str, Dict[str, Any]] = None,
             timeout_ms: int = 30000, full_state: bool = False) -> SyncResult:
        """One /sync (long-polls up to ``timeout_ms``). ``filter``: an id from
        :meth:`upload_filter`, or an inline filter (dict or JSON text)."""
        f = None if filter is None else _json(filter)
        events, invites, leaves, next_batch = _call(self._m.sync, since, f, timeout_ms, full_state)
        return SyncResult([Event(**e) for e in events], invites, leaves, next_batch)

    def sync_forever(self, since: Optional[str] = None, *,
                     filter: Union[None, str, Dict[str, Any]] = None,
                     timeout_ms: int = 30000) -> "SyncIterator":
        """An iterator over every event from ``since`` on, syncing as needed;
        it ends when :meth:`cancel` is called (from another thread)."""
        return SyncIterator(self, since, None if filter is None else _json(filter), timeout_ms)


class SyncIterator:
    """Yields :class:`Event` objects, one /sync after another.

    ``next_batch`` is the token to resume from once every event yielded so
    far is handled (save it; pass it as ``since`` after a restart). The
    iteration ends after :meth:`Client.cancel`; other errors are raised.
    """

    def __init__(self, client: Client, since: Optional[str], filter: Optional[str],
                 timeout_ms: int) -> None:
        self.client = client
        self.next_batch = since
        self._filter = filter
        self._timeout = timeout_ms
        self._pending: List[Event] = []
        self._batch: Optional[str] = since
        self.invites: List[Tuple[str, Optional[str]]] = []
        self.leaves: List[str] = []

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        while not self._pending:
            # every event of the previous batch was handed out: it is done
            self.next_batch = self._batch
            try:
                r = self.client.sync(self._batch, filter=self._filter, timeout_ms=self._timeout)
            except CancelledError:
                raise StopIteration from None
            self.invites.extend(r.invites)
            self.leaves.extend(r.leaves)
            self._pending = list(r.events)
            self._batch = r.next_batch
        ev = self._pending.pop(0)
        if not self._pending:
            self.next_batch = self._batch
        return ev
