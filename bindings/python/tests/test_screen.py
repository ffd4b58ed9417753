"""phonebridge.screen: policy with Python lookups, sessions driven by the C
engine with a Python host on a virtual clock, challenges written in Python."""

import time
import unittest

from pbtest import assert_no_growth

from phonebridge import screen
from phonebridge.errors import (
    ExistsError,
    InvalidArgument,
    NotFoundError,
    StateError,
)


class VirtualHost(screen.Host):
    """Records what the session asks, keeps the one timer on a virtual clock
    (like tests/test-screen.c's host)."""

    def __init__(self):
        self.session = None
        self.now = 0
        self.timer_at = -1
        self.rings = self.answers = self.stops = 0
        self.playing = False
        self.played = []
        self.results = []

    def open(self, registry, name, params=None, random=None, **kw):
        self.session = screen.Session(registry, name, params, self, random=random, **kw)
        self.session.start(0)
        return self.session

    # host ops
    def ring(self):
        self.rings += 1

    def answer(self):
        self.answers += 1

    def play(self, names):
        self.played.extend(names)
        self.playing = True

    def stop_playing(self):
        self.stops += 1
        self.playing = False

    def set_timer(self, at):
        self.timer_at = at

    def finish(self, result):
        self.results.append(result)

    # driving
    def run_until(self, t):
        while 0 <= self.timer_at <= t and not self.session.finished:
            self.now = self.timer_at
            self.timer_at = -1
            self.session.timer(self.now)
        self.now = t

    def play_out(self, ms):
        self.run_until(self.now + ms)
        if self.playing and not self.session.finished:
            self.playing = False
            self.session.prompt_done(self.now)

    def press(self, digits):
        self.session.dtmf(digits, self.now)

    @property
    def result(self):
        self.assertOne()
        return self.results[0]

    def assertOne(self):
        assert len(self.results) == 1, self.results


class PressSeven(screen.Challenge):
    """press 7 to get through"""

    name = "press-seven"

    def __init__(self, params):
        super().__init__(params)
        params = dict(params)
        try:
            self.tries = int(params.pop("tries", "2"))
        except ValueError:
            raise ValueError("tries must be a number") from None
        if not 1 <= self.tries <= 5:
            raise ValueError("tries must be 1..5")
        self.reject_unknown(params)
        self.events = []

    def start(self):
        self.play("press", "digit-7", "to-continue")
        self.collect(1, 5000)

    def on_input(self, digits, timed_out):
        self.events.append((digits, timed_out))
        if digits == "7":
            self.pass_()
            return
        self.tries -= 1
        if self.tries > 0:
            self.start()
        else:
            self.fail("wrong digit")


class RingThenCode(screen.Challenge):
    name = "ring-then-code"
    summary = "ring 2 s, then say a random 3-digit code and collect it"

    def start(self):
        self.ring_ms(2000)

    def on_timer(self):
        self.code = "".join(str(self.random_below(10)) for _ in range(3))
        assert len(self.random(4)) == 4
        self.answer()
        self.play("enter-the-code")
        self.say_digits(self.code)
        self.collect(3, 4000)

    def on_input(self, digits, timed_out):
        if digits == self.code:
            self.pass_()
        else:
            self.fail("wrong code")


class Broken(screen.Challenge):
    name = "broken"
    summary = "raises where told"

    def __init__(self, params):
        super().__init__(params)
        self.where = params.get("where", "start")

    def start(self):
        if self.where == "start":
            raise RuntimeError("boom in start")
        self.answer()
        self.collect(1, 1000)

    def on_input(self, digits, timed_out):
        if self.where == "input":
            raise KeyError("no such digit")
        self.pass_()

    def on_hangup(self):
        if self.where == "hangup":
            raise RuntimeError("boom in hangup")


def registry():
    r = screen.Registry()
    r.register(PressSeven)
    r.register(RingThenCode)
    r.register(Broken)
    return r


def fixed_random(values):
    """Random bytes as tests/test-screen.c injects them: pairs (0, v), so
    random_below(bound) gives v % bound."""
    it = iter(values * 100)

    def rnd(n):
        return bytes(0 if i % 2 == 0 else next(it) for i in range(n))
    return rnd


class TestPolicy(unittest.TestCase):
    def test_default_rules_and_lookups(self):
        allowed = {"+15550102000"}
        denied = {"+15550109999"}
        failures = {"+15550107777": 5}
        seen = []

        def recent(e164, since):
            seen.append((e164, since))
            return failures.get(e164, 0)

        p = screen.Policy({"region": "US"},
                          is_allowed=lambda n: n in allowed, is_denied=lambda n: n in denied,
                          recent_failures=recent)
        d = p.decide("sip:5550102000@example.net", now=100000)
        self.assertEqual((d.verdict, d.caller, d.kind, d.rule[:5]), ("accept", "+15550102000", "e164", "allow"))
        d = p.decide("tel:+1-555-010-9999")
        self.assertEqual((d.verdict, d.sip_status), ("reject", 603))
        d = p.decide("+15550107777", now=100000)
        self.assertEqual(d.verdict, "reject")
        self.assertIn(("+15550107777", 100000 - 86400), seen)
        d = p.decide("+15550101234")
        self.assertEqual((d.verdict, d.challenge, d.params), ("challenge", "press-digit", "digit=6"))
        d = p.decide("anonymous")
        self.assertEqual((d.verdict, d.kind), ("challenge", "anonymous"))
        d = p.decide("100")
        self.assertEqual((d.verdict, d.kind), ("accept", "short"))

    def test_settings(self):
        p = screen.Policy({"anonymous": "reject", "anonymous-status": 433,
                           "challenge": "press-seven", "challenge-params": "tries=3"})
        d = p.decide("sip:anonymous@anonymous.invalid")
        self.assertEqual((d.verdict, d.sip_status), ("reject", 433))
        self.assertEqual(p.decide("+4930123456").challenge, "press-seven")
        with self.assertRaises(NotFoundError):
            p.set("no-such-key", "1")
        with self.assertRaises(InvalidArgument):
            p.set("anonymous", "maybe")
        p.set("quiet-hours", "22:00-07:00")
        d = p.decide("+4930123456", minute_of_day=23 * 60)
        self.assertEqual(d.verdict, "reject")

    def test_lookup_exception_propagates(self):
        def bad(n):
            raise ConnectionError("store down")
        p = screen.Policy(is_denied=bad)
        with self.assertRaises(ConnectionError):
            p.decide("+4930123456")
        # and the policy still works afterwards
        p.is_denied = None
        self.assertEqual(p.decide("+4930123456").verdict, "challenge")

    def test_normalize_and_verstat(self):
        self.assertEqual(screen.normalize_number("+1 (555) 010-2000"), ("e164", "+15550102000"))
        self.assertEqual(screen.normalize_number(None)[0], "anonymous")
        self.assertEqual(screen.normalize_number("030 1234567"), ("unknown", ""))
        self.assertEqual(screen.normalize_number("<sip:030 1234567@h>", "DE"), ("e164", "+49301234567"))
        self.assertEqual(screen.normalize_number("sip:201@pbx", "DE"), ("short", "201"))
        with self.assertRaises(InvalidArgument):
            screen.normalize_number("030 1234567", "XX")
        p = screen.Policy({"region": "DE"})
        self.assertEqual(p.normalize("030 1234567"), ("e164", "+49301234567"))
        with self.assertRaises(InvalidArgument):
            p.set("region", "Germany")
        # the keys from before "region" still work, with a warning
        p = screen.Policy({"country-code": "49", "national-prefix": "0"})
        self.assertEqual(p.normalize("030 1234567"), ("e164", "+49301234567"))
        self.assertEqual(screen.parse_verstat("sip:+15550102000;verstat=TN-Validation-Passed-A@x"),
                         ("TN-Validation-Passed", "A"))


class TestRegistry(unittest.TestCase):
    def test_builtins_and_python(self):
        r = registry()
        for name in ("press-digit", "random-code", "arithmetic", "ring-delay", "chain",
                     "press-seven", "ring-then-code"):
            self.assertIn(name, r)
        self.assertNotIn("nope", r)
        self.assertEqual(r.summary("press-seven"), "press 7 to get through")
        r.check("press-seven", {"tries": 3})
        r.check("press-seven", {})
        with self.assertRaises(InvalidArgument) as cm:
            r.check("press-seven", {"tries": "9"})
        self.assertIn("tries must be 1..5", str(cm.exception))
        with self.assertRaises(InvalidArgument):
            r.check("press-seven", {"colour": "blue"})
        with self.assertRaises(ValueError):
            r.check("press-seven", {"tries": "3 colour=blue"})
        # the old "k=v" text still works, with a deprecation warning
        with self.assertWarns(DeprecationWarning):
            r.check("press-seven", "tries=3")
        with self.assertRaises(NotFoundError):
            r.check("nope")
        with self.assertRaises(ExistsError):
            r.register(PressSeven)
        with self.assertRaises(ExistsError):
            r.register(PressSeven, name="press-digit")
        with self.assertRaises(TypeError):
            r.register(object)

    def test_bad_params_refuse_the_session(self):
        with self.assertRaises(InvalidArgument) as cm:
            screen.Session(registry(), "press-seven", "tries=x", VirtualHost())
        self.assertIsInstance(cm.exception.__cause__, ValueError)


class TestBuiltinSession(unittest.TestCase):
    def test_press_digit_pass_with_barge_in(self):
        h = VirtualHost()
        h.open(registry(), "press-digit", "digit=6")
        self.assertEqual(h.answers, 1)
        self.assertIn("digit-6", h.played)
        h.press("6")  # barge-in during the prompt
        self.assertEqual(h.result.outcome, "passed")
        self.assertTrue(h.result.answered)
        self.assertEqual(h.result.challenge, "press-digit")
        self.assertGreaterEqual(h.stops, 1)
        with self.assertRaises(StateError):
            h.session.dtmf("6", h.now)

    def test_random_code_with_injected_random(self):
        h = VirtualHost()
        h.open(registry(), "random-code", "digits=4", random=fixed_random([3, 4, 1, 9]))
        self.assertIn("digit-3", h.played)
        h.play_out(3000)
        h.press("3419")
        self.assertEqual(h.result.outcome, "passed")

    def test_timeout_fails(self):
        h = VirtualHost()
        h.open(registry(), "press-digit", "digit=6 tries=1")
        h.play_out(2000)
        h.run_until(h.now + 60000)
        self.assertEqual(h.result.outcome, "failed")


class TestPythonChallenge(unittest.TestCase):
    def test_pass_second_try(self):
        h = VirtualHost()
        s = h.open(registry(), "press-seven", "tries=2")
        self.assertEqual(h.played, ["press", "digit-7", "to-continue"])
        self.assertEqual(h.answers, 1)
        h.play_out(2500)
        h.press("3")
        self.assertFalse(s.finished)
        h.play_out(2500)
        h.press("7")
        r = h.result
        self.assertEqual((r.outcome, r.challenge, r.answered), ("passed", "press-seven", True))
        self.assertEqual(r.duration, 5000)
        self.assertIsNone(s.exception)
        self.assertEqual(s.result, r)

    def test_collect_timeout_then_fail_with_reason(self):
        h = VirtualHost()
        h.open(registry(), "press-seven", "tries=1", goodbye=True)
        h.play_out(2500)
        h.run_until(h.now + 5000)  # the collect times out
        h.play_out(1000)           # the goodbye prompt
        h.run_until(h.now + 10000)
        r = h.result
        self.assertEqual((r.outcome, r.reason), ("failed", "wrong digit"))
        self.assertEqual(h.played[-1], "goodbye")

    def test_ring_timer_random_and_say_digits(self):
        h = VirtualHost()
        s = h.open(registry(), "ring-then-code", random=fixed_random([5, 0, 2]))
        self.assertEqual((h.rings, h.answers), (1, 0))
        self.assertEqual(h.timer_at, 2000)
        h.run_until(2000)
        self.assertEqual(h.answers, 1)
        self.assertEqual(h.played, ["enter-the-code", "digit-5", "digit-0", "digit-2"])
        h.play_out(3000)
        h.press("502")
        self.assertEqual(h.result.outcome, "passed")
        self.assertIsNone(s.exception)

    def test_ring_in_seconds_still_works_and_warns(self):
        class RingOld(RingThenCode):
            name = "ring-old"

        def start(ch):
            ch.ring(2)  # the deprecated spelling: seconds
        RingOld.start = start
        r = registry()
        r.register(RingOld)
        h = VirtualHost()
        with self.assertWarns(DeprecationWarning):
            h.open(r, "ring-old", random=fixed_random([5, 0, 2]))
        self.assertEqual((h.rings, h.timer_at), (1, 2000))

    def test_python_challenge_in_a_chain(self):
        h = VirtualHost()
        h.open(registry(), "chain", "steps=press-seven,press-digit")
        h.press("7")
        self.assertFalse(h.session.finished)
        h.play_out(2000)
        h.press("6")
        self.assertEqual(h.result.outcome, "passed")

    def test_hangup(self):
        h = VirtualHost()
        h.open(registry(), "press-seven")
        h.session.hangup(1000)
        self.assertEqual(h.result.outcome, "hung-up")

    def test_actions_outside_events_are_refused(self):
        c = PressSeven({})
        with self.assertRaises(StateError):
            c.answer()


class TestExceptionsInPython(unittest.TestCase):
    def test_exception_in_start_is_a_session_error(self):
        h = VirtualHost()
        s = h.open(registry(), "broken", "where=start")
        r = h.result
        self.assertEqual(r.outcome, "error")
        self.assertIn("RuntimeError: boom in start", r.reason)
        self.assertIsInstance(s.exception, RuntimeError)
        self.assertIsNotNone(s.exception.__traceback__)
        with self.assertRaises(StateError):
            s.timer(10)

    def test_exception_in_on_input(self):
        h = VirtualHost()
        s = h.open(registry(), "broken", "where=input")
        h.press("1")
        self.assertEqual(h.result.outcome, "error")
        self.assertIn("KeyError", h.result.reason)
        self.assertIsInstance(s.exception, KeyError)

    def test_exception_in_on_hangup_still_ends_as_hung_up(self):
        h = VirtualHost()
        s = h.open(registry(), "broken", "where=hangup")
        s.hangup(10)
        self.assertEqual(h.result.outcome, "hung-up")
        self.assertIsInstance(s.exception, RuntimeError)

    def test_exception_in_host_is_raised_by_the_event(self):
        class BadHost(VirtualHost):
            def answer(self):
                raise OSError("no media")
        h = BadHost()
        with self.assertRaises(OSError):
            h.open(registry(), "press-seven")
        # the session itself went on: prompts were queued
        self.assertIn("digit-7", h.played)

    def test_random_that_raises(self):
        def rnd(n):
            raise RuntimeError("no entropy")
        h = VirtualHost()
        s = h.open(registry(), "random-code", "digits=4", random=rnd)
        self.assertEqual(h.result.outcome, "error")
        self.assertIsInstance(s.exception, RuntimeError)


class TestThreads(unittest.TestCase):
    def test_exceptions_land_on_their_own_session(self):
        """Sessions fed from several threads: the GIL passes between them
        inside Python challenge methods, and each exception still lands on
        the session that raised it."""
        import threading

        class Slow(screen.Challenge):
            name = "slow"

            def start(self):
                self.answer()
                self.collect(1, 1000)

            def on_input(self, digits, timed_out):
                for _ in range(200):
                    time.sleep(0)  # let the other threads run in between
                if digits == "1":
                    raise LookupError(threading.current_thread().name)
                self.pass_()

        reg = registry()
        reg.register(Slow)
        results, errors = {}, []

        def run(digit):
            try:
                for _ in range(50):
                    h = VirtualHost()
                    s = h.open(reg, "slow")
                    h.press(digit)
                    name = threading.current_thread().name
                    results.setdefault(name, []).append(
                        (h.result.outcome, type(s.exception).__name__,
                         str(s.exception.args[0]) if s.exception else None))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=run, args=(d,), name=f"t{i}-{d}")
                   for i, d in enumerate("1212")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        for name, got in results.items():
            if name.endswith("-1"):
                self.assertEqual(set(got), {("error", "LookupError", name)})
            else:
                self.assertEqual(set(got), {("passed", "NoneType", None)})


class TestExample(unittest.TestCase):
    def test_custom_challenge_example_runs(self):
        import contextlib
        import io
        import os
        import runpy
        from pbtest import SOURCE_ROOT
        path = os.path.join(SOURCE_ROOT, "examples", "python", "custom_challenge.py")
        if not os.path.exists(path):
            self.skipTest("no examples")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
        self.assertIn("finish: passed", out.getvalue())
        self.assertIn("finish: failed (wrong year)", out.getvalue())


class TestNoLeaks(unittest.TestCase):
    def test_policy_and_session_loop(self):
        reg = registry()
        policy = screen.Policy(is_allowed=lambda n: False, is_denied=lambda n: n.endswith("9"),
                               recent_failures=lambda n, s: 0)

        def one_round():
            policy.decide("+4930123459")
            d = policy.decide("+4930123456")
            h = VirtualHost()
            h.open(reg, d.challenge, d.params)
            h.press("6")
            h = VirtualHost()
            h.open(reg, "press-seven", "tries=1")
            h.press("7")
            h = VirtualHost()
            h.open(reg, "broken", "where=start")
            try:
                screen.Session(reg, "press-seven", "tries=x", VirtualHost())
            except InvalidArgument:
                pass

        assert_no_growth(self, one_round, 2000, 20000)


if __name__ == "__main__":
    unittest.main()
