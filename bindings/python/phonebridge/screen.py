"""Call screening: the policy, challenges (built-in or written in Python), sessions.

Screening is pure logic: nothing here opens a socket or reads a clock. The
program is the *host*: it feeds events into a :class:`Session` with the
current time (milliseconds on any monotonic clock; tests use a virtual one)
and carries out what the session asks through its :class:`Host` methods.

A challenge written in Python is driven by the C engine exactly like a
built-in one::

    from phonebridge import screen

    class PressSeven(screen.Challenge):
        name = "press-seven"
        summary = "press 7 to get through"

        def __init__(self, params):
            super().__init__(params)
            self.tries = int(params.pop("tries", "2"))
            self.reject_unknown(params)

        def start(self):
            self.play("press", "digit-7", "to-continue")
            self.collect(1, 8000)

        def on_input(self, digits, timed_out):
            if digits == "7":
                self.pass_()
            elif (tries := self.tries - 1) > 0:
                self.tries = tries
                self.start()
            else:
                self.fail("wrong digit")

    registry = screen.Registry()
    registry.register(PressSeven)
    session = screen.Session(registry, "press-seven", "tries=3", my_host)
    session.start(now_ms)

An exception raised in a challenge method ends the session with the outcome
``"error"`` (the reason is ``"ExcType: message"``); the exception itself is
kept as :attr:`Session.exception`. The call is never left hanging.

:class:`Screener` runs the whole engine on real SIP calls (the C
``pb_screener``: SIP agent, media, policy, store), with Python challenges::

    screen.Screener({"allow": "127.0.0.1", "store": "screen.db",
                     "prompts": "/usr/share/phonebridge/prompts",
                     "target": "sip:desk@pbx.example.org",
                     "policy": {"challenge": "press-seven"}},
                    challenges=[PressSeven]).run()
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type, Union

from . import _phonebridge

__all__ = [
    "Policy",
    "Decision",
    "Challenge",
    "Registry",
    "Host",
    "Session",
    "Result",
    "Screener",
    "normalize_number",
    "parse_verstat",
]


def normalize_number(identity: Optional[str], region: Optional[str] = None) -> Tuple[str, str]:
    """Normalise a caller identity (number, tel:/sip: URI, name-addr):
    ``(kind, number)``, kind one of ``"e164"``, ``"short"``, ``"anonymous"``,
    ``"unknown"``. The digits are read by :func:`phonebridge.phone.normalize`
    with ``region`` ("US", "DE"...); without one only "+" numbers and short
    numbers are understood. InvalidArgument for a region not in the table.
    :meth:`Policy.normalize` uses the policy's ``region`` key."""
    return _phonebridge.screen_normalize_number(identity, region)


def parse_verstat(uri: Optional[str]) -> Tuple[str, Optional[str]]:
    """The STIR/SHAKEN ``verstat`` of a P-Asserted-Identity or From URI:
    ``("TN-Validation-Passed", "A")``, ``("none", None)``..."""
    return _phonebridge.screen_parse_verstat(uri)


# --- policy -------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the policy decided for one call."""

    verdict: str        #: "accept", "reject" or "challenge"
    sip_status: int     #: for "reject": 603, 433, 480, ...
    caller: str         #: normalised caller, or ""
    kind: str           #: "e164", "short", "anonymous", "unknown"
    verstat: str        #: attestation seen, e.g. "TN-Validation-Passed"
    challenge: str      #: for "challenge": the challenge name
    params: str         #: its parameters, "key=value key=value"
    rule: str           #: which rule decided, e.g. "deny-list"


def _policy_text(value: Any) -> str:
    if value is True or value is False:
        return "yes" if value else "no"
    return str(value)


class Policy:
    """A screening policy: rules from ``key=value`` settings (docs/screen.md),
    store lookups as Python callables.

    ``config`` maps keys to values (``{"region": "US", "quiet-hours":
    "22:00-07:00"}``); values that are not str are converted with ``str()``
    (``True``/``False`` become ``yes``/``no``). The lookups take the caller in
    E.164: ``is_allowed(e164) -> bool``, ``is_denied(e164) -> bool``,
    ``recent_failures(e164, since_unix) -> int``. An exception raised by a
    lookup propagates out of :meth:`decide`.
    """

    def __init__(self, config: Optional[Mapping[str, Any]] = None, *,
                 is_allowed: Optional[Callable[[str], bool]] = None,
                 is_denied: Optional[Callable[[str], bool]] = None,
                 recent_failures: Optional[Callable[[str, int], int]] = None) -> None:
        self._p = _phonebridge.Policy()
        self.is_allowed = is_allowed
        self.is_denied = is_denied
        self.recent_failures = recent_failures
        for key, value in (config or {}).items():
            self.set(key, value)

    def set(self, key: str, value: Any) -> None:
        """Set one rule; NotFoundError for an unknown key, InvalidArgument for a bad value."""
        self._p.set(key, _policy_text(value))

    def normalize(self, identity: Optional[str]) -> Tuple[str, str]:
        """Like :func:`normalize_number`, with this policy's ``region``."""
        return self._p.normalize(identity)

    def decide(self, from_: Optional[str] = None, *, display_name: Optional[str] = None,
               pai: Optional[str] = None, verstat: Optional[str] = None,
               identity_header: bool = False, called: Optional[str] = None,
               now: int = 0, minute_of_day: int = -1) -> Decision:
        """Decide what to do with one incoming call.

        ``from_`` is the From URI or number, ``pai`` the P-Asserted-Identity,
        ``now`` the wall clock in unix seconds (for the failure window),
        ``minute_of_day`` local time 0..1439 (-1 unknown; for quiet hours).
        """
        d = self._p.decide(from_=from_, display_name=display_name, pai=pai, verstat=verstat,
                           identity_header=identity_header, called=called, now=now,
                           minute_of_day=minute_of_day, is_allowed=self.is_allowed,
                           is_denied=self.is_denied, recent_failures=self.recent_failures)
        return Decision(**d)


# --- challenges -----------------------------------------------------------------


class Challenge:
    """Base class of a challenge written in Python.

    Subclass it, set :attr:`name` (``[a-z0-9-]+``) and :attr:`summary`, and
    override the event methods you need; :meth:`start` is required. One
    instance serves one call: it is made with the parameters as a dict of
    str (``"digit=6 tries=3"`` -> ``{"digit": "6", "tries": "3"}``); raise
    ``ValueError`` from ``__init__`` to refuse a bad parameter (the session
    is then not made: ``InvalidArgument``).

    From inside an event method, act on the call with :meth:`ring`,
    :meth:`answer`, :meth:`play`, :meth:`say_digits`, :meth:`collect`,
    :meth:`set_timer`, :meth:`pass_` and :meth:`fail` (return right after
    those two). Outside an event method the actions raise StateError.
    """

    name: str = ""
    summary: str = ""

    def __init__(self, params: Dict[str, str]) -> None:
        self.params = params
        self._ctx: Optional[_phonebridge.ChallengeContext] = None

    # called by the C extension
    def _pb_event(self, ctx: _phonebridge.ChallengeContext, event: str, args: Tuple[Any, ...]) -> None:
        self._ctx = ctx
        try:
            getattr(self, event)(*args)
        finally:
            self._ctx = None

    def _act(self) -> _phonebridge.ChallengeContext:
        if self._ctx is None:
            from .errors import StateError
            raise StateError("challenge action outside a challenge event method")
        return self._ctx

    def reject_unknown(self, remaining: Mapping[str, str]) -> None:
        """Raise ValueError naming the first parameter left in ``remaining``."""
        for key in remaining:
            raise ValueError(f"{self.name}: unknown parameter {key!r}")

    # --- events (override) ---
    def start(self) -> None:
        """The call is offered: ring or answer, play, collect."""
        raise NotImplementedError("Challenge.start() must be overridden")

    def on_dtmf(self, digit: str) -> None:
        """A digit arrived while no collect() was running."""

    def on_input(self, digits: str, timed_out: bool) -> None:
        """A collect() ended with ``digits``; ``timed_out`` when short."""

    def on_timer(self) -> None:
        """The timer of set_timer() or ring_ms() expired."""

    def on_prompt_done(self) -> None:
        """The playout queue ran empty."""

    def on_hangup(self) -> None:
        """The caller hung up; no actions are allowed any more."""

    # --- actions ---
    def ring_ms(self, ms: int) -> None:
        """Ring unanswered for ``ms``; on_timer() follows."""
        self._act().ring_ms(ms)

    def ring(self, seconds: int) -> None:
        """Deprecated since 0.2, removed in 1.0: :meth:`ring_ms` (``seconds * 1000``)."""
        warnings.warn("ring(seconds) is deprecated (removed in 1.0): use ring_ms(ms)", DeprecationWarning,
                      stacklevel=2)
        self._act().ring_ms(seconds * 1000)

    def answer(self) -> None:
        """Answer the call (once)."""
        self._act().answer()

    def play(self, *names: str) -> None:
        """Queue prompts by name ("press", "digit-6", ...); answers first if needed."""
        self._act().play(*names)

    def say_digits(self, digits: str) -> None:
        """Queue "digit-N" / "star" / "pound" prompts for ``digits``."""
        self._act().say_digits(digits)

    def collect(self, count: int, timeout_ms: int) -> None:
        """Collect ``count`` digits (1..32); on_input() follows."""
        self._act().collect(count, timeout_ms)

    def set_timer(self, ms: int) -> None:
        """on_timer() after ``ms``; 0 disarms."""
        self._act().set_timer(ms)

    def pass_(self) -> None:
        """The caller passed: the call is forwarded."""
        self._act().pass_()

    def fail(self, reason: str = "failed") -> None:
        """The caller failed: goodbye, hang up; ``reason`` is reported."""
        self._act().fail(reason)

    def random(self, n: int) -> bytes:
        """``n`` random bytes (0..4096) from the session's CSPRNG (or the test's)."""
        return self._act().random(n)

    def random_below(self, bound: int) -> int:
        """A uniform random number in [0, bound) from the session's CSPRNG."""
        return self._act().random_below(bound)

    def now(self) -> int:
        """The host's clock (ms) at the current event."""
        return self._act().now()


def params_text(params: Optional[Mapping[str, Any]]) -> Optional[str]:
    """Challenge parameters as a dict -> the ``"key=value key=value"`` text
    the C side reads (None stays None). ValueError for a key that is empty or
    holds ``=`` or white space, or a value with white space."""
    if params is None:
        return None
    words = []
    for key, value in params.items():
        if value is True or value is False:
            value = "yes" if value else "no"
        k, v = str(key), str(value)
        if not k or "=" in k or any(ch.isspace() for ch in k + v):
            raise ValueError(f"challenge parameter {k!r}={v!r}: keys hold no '=' and neither holds white space")
        words.append(f"{k}={v}")
    return " ".join(words)


class Registry:
    """The challenges sessions can run: the built-ins ("press-digit",
    "random-code", "arithmetic", "ring-delay", "chain") plus the Python
    classes :meth:`register`-ed here. Python challenges can be steps of a
    "chain" too."""

    def __init__(self) -> None:
        self._r = _phonebridge.Registry()

    def register(self, cls: Type[Challenge], name: Optional[str] = None) -> Type[Challenge]:
        """Register a :class:`Challenge` subclass under ``name`` (default
        ``cls.name``). ExistsError if the name is taken. Returns ``cls``, so
        it works as a decorator."""
        if not (isinstance(cls, type) and issubclass(cls, Challenge)):
            raise TypeError("register() takes a phonebridge.screen.Challenge subclass")
        self._r.add(name or cls.name, cls.summary or (cls.__doc__ or "").strip().split("\n")[0], cls)
        return cls

    def check(self, name: str, params: Union[Mapping[str, Any], str, None] = None) -> None:
        """Check that ``name`` exists and accepts ``params``: NotFoundError, InvalidArgument.

        ``params`` is a dict like :class:`Policy`'s config (``{"tries": 3}``;
        values converted with ``str()``, ``True``/``False`` to ``yes``/``no``).
        A ``"key=value key=value"`` string still works but is deprecated
        (DeprecationWarning)."""
        if isinstance(params, str):
            warnings.warn("Registry.check(): pass the parameters as a dict; "
                          "'key=value' strings are deprecated (removed in 1.0)", DeprecationWarning, stacklevel=2)
            self._r.check(name, params)
        else:
            self._r.check(name, params_text(params))

    def summary(self, name: str) -> str:
        """The one-line summary of challenge ``name``."""
        return self._r.summary(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self._r.summary(name)
            return True
        except LookupError:
            return False


# --- sessions -------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """How a session ended."""

    outcome: str     #: "passed", "failed", "hung-up", "timed-out", "error"
    answered: bool   #: the call was answered (forward by REFER/bridge, not 302)
    challenge: str
    reason: str      #: e.g. "wrong digits", or "RuntimeError: ..." for "error"
    duration: int    #: ms


class Host:
    """What a session asks of the program. Subclass and override; the
    defaults do nothing. Called from inside the Session's event methods; an
    exception raised here is re-raised by that event method."""

    def ring(self) -> None:
        """Start ringing (180) if not yet."""

    def answer(self) -> None:
        """Answer (200 with SDP) and start media."""

    def play(self, names: List[str]) -> None:
        """Append prompts to the playout queue; call Session.prompt_done() when it runs empty."""

    def stop_playing(self) -> None:
        """Flush the playout queue (barge-in)."""

    def set_timer(self, at: int) -> None:
        """Arm the one timer for time ``at`` (ms); -1 disarms. Call Session.timer() then."""

    def finish(self, result: Result) -> None:
        """The session is over: forward (passed) or hang up. Called once."""


class Session:
    """One screening session: runs challenge ``challenge`` with ``params``
    for one call, asking ``host`` to act.

    ``max_duration`` (ms, 0 none) bounds the session; ``goodbye`` plays
    "goodbye" before hanging up on failure; ``random(n) -> bytes`` replaces
    the kernel CSPRNG (tests). Events return None, or raise StateError once
    the session has finished. The C session is freed with the object (or by
    :meth:`close`).
    """

    def __init__(self, registry: Registry, challenge: str,
                 params: Union[Mapping[str, Any], str, None], host: Host, *,
                 max_duration: int = 90000, goodbye: bool = True,
                 random: Optional[Callable[[int], bytes]] = None) -> None:
        self.host = host
        text = params if isinstance(params, str) else params_text(params)
        self._s = _phonebridge.Session(registry._r, challenge, text, _HostAdapter(host),
                                       max_duration=max_duration, goodbye=goodbye, random=random)

    def start(self, now: int) -> None:
        self._s.start(now)

    def dtmf(self, digits: str, now: int) -> None:
        """One or more DTMF digits (0-9, *, #, A-D) arriving at ``now``."""
        for d in digits:
            self._s.dtmf(d, now)

    def timer(self, now: int) -> None:
        self._s.timer(now)

    def prompt_done(self, now: int) -> None:
        self._s.prompt_done(now)

    def hangup(self, now: int) -> None:
        self._s.hangup(now)

    def close(self) -> None:
        self._s.close()

    @property
    def finished(self) -> bool:
        return self._s.finished

    @property
    def result(self) -> Optional[Result]:
        r = self._s.result
        return Result(**r) if r is not None else None

    @property
    def challenge(self) -> Optional[str]:
        return self._s.challenge

    @property
    def exception(self) -> Optional[BaseException]:
        """The first exception a Python challenge raised in this session, or None."""
        return self._s.exception


class _HostAdapter:
    """Turns the C extension's host calls into Host method calls with Python shapes.
    Holds the host weakly-free: the Session owns both."""

    __slots__ = ("host",)

    def __init__(self, host: Host) -> None:
        self.host = host

    def ring(self) -> None:
        self.host.ring()

    def answer(self) -> None:
        self.host.answer()

    def play(self, names: List[str]) -> None:
        self.host.play(names)

    def stop_playing(self) -> None:
        self.host.stop_playing()

    def set_timer(self, at: int) -> None:
        self.host.set_timer(at)

    def finish(self, result: Dict[str, Any]) -> None:
        self.host.finish(Result(**result))


# --- a whole screener on real SIP calls ----------------------------------------


class Screener:
    """The screening engine on real SIP calls (``pb_screener``): each INVITE
    from an allowed source is decided by the policy and refused, forwarded,
    or challenged with a built-in or a Python :class:`Challenge`; callers who
    pass go on the allow list of the store; every call is logged there.

    ``config`` keys: ``store``, ``prompts``, ``target`` (required);
    ``listen`` (default "127.0.0.1"), ``port`` (0 or absent: any free port,
    see :attr:`port`), ``allow`` (sources allowed to call, e.g.
    "127.0.0.1 192.168.1.0/24"), ``rtp_address``, ``user_agent``, ``mode``
    ("bridge", "redirect", "refer"), ``fallback``, ``early_media``,
    ``max_duration`` (s), ``forward_timeout`` (s), ``policy`` (a dict of
    :meth:`Policy.set` keys), ``voicemail`` (bool: a voicemail after a failed
    bridge, stored in the store; docs/screen.md), ``voicemail_max_seconds``,
    ``voicemail_silence_seconds``, ``voicemail_format`` ("wav" or "opus"),
    ``voicemail_greeting`` (a prompt name). Unknown keys raise ValueError.

    ``challenges``: :class:`Challenge` subclasses to register (by their
    ``name``). ``on_event(event: dict)`` receives every call's events:
    ``type`` is "started", "verdict", "challenge", "forwarded", "ended" or
    "refused" (refused before screening: rule, sip_status, and count for an
    aggregated flood); other keys: call, from, source, caller, verdict, rule,
    result, reason, target, outcome, duration_ms, sip_status, count.

    :meth:`run` releases the GIL while the SIP stack waits; challenges and
    ``on_event`` run with it held, on the thread that called :meth:`run`.
    An exception in a challenge ends that call (hung up, logged as
    "NAME:error"), never the screener. sofia-sip binds its loop to the
    thread that started it: :meth:`start`, :meth:`step`, :meth:`run` and
    :meth:`close` belong to that thread (:meth:`stop` may come from any). Ctrl-C stops taking calls; run()
    raises KeyboardInterrupt once the calls in progress have ended. In an
    asyncio program, ``await screener.serve()`` instead of :meth:`run`; other
    event loops watch :meth:`fileno` and call :meth:`dispatch`.
    """

    def __init__(self, config: Mapping[str, Any], *, challenges: Tuple[Type[Challenge], ...] = (),
                 on_event: Optional[Callable[[Dict[str, Any]], Any]] = None) -> None:
        opts = dict(config)
        if isinstance(opts.get("policy"), Mapping):
            opts["policy"] = {str(k): _policy_text(v) for k, v in opts["policy"].items()}
        self._s = _phonebridge.Screener(opts, on_event)
        self._started = False
        for cls in challenges:
            self.register(cls)

    def register(self, cls: Type[Challenge], name: Optional[str] = None) -> Type[Challenge]:
        """Add a :class:`Challenge` subclass (before :meth:`start`); returns ``cls``."""
        if not (isinstance(cls, type) and issubclass(cls, Challenge)):
            raise TypeError("register() takes a phonebridge.screen.Challenge subclass")
        self._s.add(name or cls.name, cls.summary or (cls.__doc__ or "").strip().split("\n")[0], cls)
        return cls

    def start(self) -> None:
        """Check the challenges the policy names, then listen."""
        self._s.start()
        self._started = True

    def step(self, timeout_ms: int = 0) -> int:
        """Handle what arrives within ``timeout_ms`` (-1: until something does);
        returns ms to the next timer (-1 none)."""
        return self._s.step(timeout_ms)

    def run(self) -> None:
        """Start if needed, then answer calls until :meth:`stop` and the last call ended."""
        if not self._started:
            self.start()
        self._s.run()

    def stop(self) -> None:
        """Stop taking calls (503); :meth:`run` returns once the calls in progress end."""
        self._s.stop()

    def fileno(self) -> int:
        """A descriptor that polls readable when the screener has work, for an
        event loop of your own (after :meth:`start`): call :meth:`dispatch`
        when it is readable or when :meth:`timeout_ms` has passed."""
        return self._s.fileno()

    def timeout_ms(self) -> int:
        """Milliseconds until :meth:`dispatch` is due anyway (-1: none)."""
        return self._s.timeout_ms()

    def dispatch(self) -> bool:
        """Do what is ready without waiting; returns whether the screener has
        stopped (after :meth:`stop`, once the last call ended)."""
        return self._s.dispatch()

    async def serve(self) -> None:
        """Answer calls inside the running asyncio loop (``add_reader`` on
        :meth:`fileno`, a timer for :meth:`timeout_ms`) until :meth:`stop`
        and the last call ended; challenges and ``on_event`` run on the
        loop's thread, between its other tasks."""
        import asyncio
        if not self._started:
            self.start()
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        fd = self.fileno()
        loop.add_reader(fd, ready.set)
        try:
            while not self.dispatch():
                ready.clear()
                t = self.timeout_ms()
                try:
                    await asyncio.wait_for(ready.wait(), None if t < 0 else t / 1000)
                except asyncio.TimeoutError:
                    pass
        finally:
            loop.remove_reader(fd)

    def close(self) -> None:
        """End every call and free the screener."""
        self._s.close()

    @property
    def port(self) -> int:
        """The SIP port (0 before :meth:`start`)."""
        return self._s.port

    @property
    def calls(self) -> int:
        """Calls in progress."""
        return self._s.calls

    def __enter__(self) -> "Screener":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
