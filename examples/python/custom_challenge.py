#!/usr/bin/python3
"""A call-screening challenge written in Python, driven by the C engine.

"Type the year": the caller hears "please enter" and must type the current
year's last two digits; two tries. The challenge is registered next to the
built-in ones, so a policy can name it (challenge=type-year) and "chain" can
use it as a step.

Run it to watch a simulated call (a virtual clock, no SIP):

    PYTHONPATH=build/bindings/python python3 examples/python/custom_challenge.py
"""

import datetime
from typing import Dict, List, Optional

from phonebridge import screen


class TypeTheYear(screen.Challenge):
    """type the last two digits of the current year"""

    name = "type-year"

    def __init__(self, params: Dict[str, str]) -> None:
        super().__init__(params)
        params = dict(params)
        self.tries = int(params.pop("tries", "2"))
        self.year = params.pop("year", f"{datetime.date.today().year % 100:02d}")
        self.reject_unknown(params)  # ValueError -> the session is refused

    def start(self) -> None:
        self.play("enter-the-code")          # answers the call first
        self.collect(2, 6000)              # on_input() follows

    def on_input(self, digits: str, timed_out: bool) -> None:
        if digits == self.year:
            self.pass_()
            return
        self.tries -= 1
        if self.tries == 0:
            self.fail("wrong year")
            return
        self.play("try-again", "enter-the-code")
        self.collect(2, 6000)


class PrintingHost(screen.Host):
    """A host that prints what the session asks and keeps its timer on a
    virtual clock (a real one would drive SIP and RTP)."""

    def __init__(self) -> None:
        self.timer_at = -1
        self.result: Optional[screen.Result] = None

    def ring(self) -> None:
        print("  host: ring")

    def answer(self) -> None:
        print("  host: answer")

    def play(self, names: List[str]) -> None:
        print("  host: play", " ".join(names))

    def stop_playing(self) -> None:
        print("  host: stop playing (barge-in)")

    def set_timer(self, at: int) -> None:
        self.timer_at = at

    def finish(self, result: screen.Result) -> None:
        self.result = result
        print(f"  host: finish: {result.outcome} ({result.reason or 'no reason'}), "
              f"answered={result.answered}, {result.duration} ms")


def simulate(registry: screen.Registry, keys: str) -> Optional[screen.Result]:
    host = PrintingHost()
    session = screen.Session(registry, "type-year", "year=26", host)
    session.start(0)
    now = 0
    for k in keys:
        now += 1500
        print(f"  caller presses {k} at {now} ms")
        session.dtmf(k, now)
    if not session.finished:
        now += 1000
        session.prompt_done(now)
        while host.timer_at >= 0 and not session.finished:
            now = host.timer_at
            host.timer_at = -1
            session.timer(now)
    return host.result


def main() -> None:
    registry = screen.Registry()          # the built-ins...
    registry.register(TypeTheYear)        # ...and ours
    registry.check("type-year", "tries=3")
    policy = screen.Policy({"challenge": "type-year", "challenge-params": "year=26"})
    decision = policy.decide("sip:+15550102000@example.net")
    print("policy:", decision.verdict, decision.challenge, decision.params)
    print("a caller who knows the year:")
    passed = simulate(registry, "26")
    assert passed is not None and passed.outcome == "passed"
    print("a caller who does not:")
    failed = simulate(registry, "1999")
    assert failed is not None and failed.outcome == "failed"


if __name__ == "__main__":
    main()
