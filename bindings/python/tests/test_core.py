"""phonebridge core: errors as exceptions, text helpers, logging, no leaks."""

import logging
import subprocess
import sys
import unittest

from pbtest import assert_no_growth

import phonebridge
from phonebridge import _phonebridge
from phonebridge.errors import (
    InvalidArgument,
    MalformedPDU,
    NotFoundError,
    PhoneBridgeError,
    RangeError,
    UnsupportedError,
)


class TestVersion(unittest.TestCase):
    def test_version_matches(self):
        major, minor, patch = phonebridge.library_version()
        self.assertEqual(phonebridge.__version__, f"{major}.{minor}.{patch}")


class TestPackage(unittest.TestCase):
    def test_submodules_come_with_the_package(self):
        # a fresh interpreter: this process has imported the submodules already
        code = ("import phonebridge\n"
                "for name in ('matrix', 'mms', 'mmsc', 'modem', 'phone', 'screen', 'sms', 'store'):\n"
                "    getattr(phonebridge, name)\n"
                "phonebridge.sms.decode; phonebridge.screen.Registry\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)


class TestErrors(unittest.TestCase):
    def test_malformed_hex_has_offset_and_code(self):
        with self.assertRaises(MalformedPDU) as cm:
            phonebridge.hex_decode("0791zz")
        e = cm.exception
        self.assertEqual(e.offset, 4)
        self.assertEqual(e.code, -4)
        self.assertEqual(e.name, "PB_EMALFORMED")
        self.assertIn("offset 4", str(e))
        self.assertIsInstance(e, ValueError)
        self.assertIsInstance(e, PhoneBridgeError)

    def test_unknown_charset_is_unsupported(self):
        with self.assertRaises(UnsupportedError):
            phonebridge.charset_to_utf8(b"a", "x-klingon")

    def test_not_found_is_lookup_error(self):
        with self.assertRaises(LookupError):
            phonebridge.charset_to_mib("klingon")
        with self.assertRaises(NotFoundError):
            phonebridge.charset_to_mib("klingon")

    def test_range_error(self):
        with self.assertRaises(RangeError) as cm:
            phonebridge.charset_from_utf8("ok \u20ac", "ISO-8859-1")
        self.assertIn("offset 3", str(cm.exception))

    def test_timeout_is_builtin_timeout(self):
        self.assertTrue(issubclass(phonebridge.TimeoutError, TimeoutError))

    def test_every_code_has_a_class(self):
        for code in range(-18, 0):
            name = _phonebridge.error_name(code)
            self.assertTrue(name.startswith("PB_E"), name)
        self.assertTrue(issubclass(InvalidArgument, ValueError))


class TestText(unittest.TestCase):
    def test_hex(self):
        self.assertEqual(phonebridge.hex_decode("00 07\n91aB"), b"\x00\x07\x91\xab")
        self.assertEqual(phonebridge.hex_encode(b"\x07\x91", upper=True), "0791")
        self.assertEqual(phonebridge.hex_encode(bytearray(b"\xab")), "ab")
        self.assertEqual(phonebridge.hex_encode(memoryview(b"\xab")), "ab")

    def test_base64(self):
        self.assertEqual(phonebridge.base64_encode(b"foobar"), "Zm9vYmFy")
        self.assertEqual(phonebridge.base64_encode(b"f", pad=False), "Zg")
        self.assertEqual(phonebridge.base64_decode("Zm9v\r\nYmFy"), b"foobar")
        self.assertEqual(phonebridge.base64_decode("-_-_", url=True), b"\xfb\xff\xbf")
        with self.assertRaises(MalformedPDU) as cm:
            phonebridge.base64_decode("Zm9v!")
        self.assertEqual(cm.exception.offset, 4)

    def test_charsets(self):
        self.assertEqual(phonebridge.charset_to_utf8(b"caf\xe9", "ISO-8859-1"), "caf\u00e9")
        self.assertEqual(phonebridge.charset_to_utf8(b"\xd8\x3d\xde\x00", "UTF-16BE"), "\U0001F600")
        self.assertEqual(phonebridge.charset_to_utf8(b"\xd8\x3d\x00x", "UCS-2"), "\ufffdx")
        self.assertEqual(phonebridge.charset_from_utf8("h\U0001F600", "UTF-16"), b"\x00h\xd8\x3d\xde\x00")
        self.assertEqual(phonebridge.charset_from_mib(106), "UTF-8")
        self.assertIsNone(phonebridge.charset_from_mib(0))
        self.assertEqual(phonebridge.charset_to_mib("utf-8"), 106)

    def test_utf8_validate(self):
        phonebridge.utf8_validate("\u00e9\U0001F600".encode())
        with self.assertRaises(MalformedPDU) as cm:
            phonebridge.utf8_validate(b"ab\xc0\xaf")
        self.assertEqual(cm.exception.offset, 2)

    def test_wrong_types(self):
        with self.assertRaises(TypeError):
            phonebridge.hex_encode("not bytes")
        with self.assertRaises(TypeError):
            phonebridge.hex_decode(b"bytes")


class TestLogging(unittest.TestCase):
    def tearDown(self):
        phonebridge.disable_logging()

    def test_library_lines_reach_logging(self):
        phonebridge.enable_logging(logging.DEBUG)
        with self.assertLogs("phonebridge.hilink", level="WARNING") as cm:
            _phonebridge.log(_phonebridge.LOG_WARNING, "hilink", "token 125002 refused")
        self.assertEqual(cm.records[0].getMessage(), "token 125002 refused")
        self.assertEqual(cm.records[0].levelno, logging.WARNING)

    def test_custom_logger(self):
        logger = logging.getLogger("mine")
        phonebridge.enable_logging(logging.INFO, logger=logger)
        with self.assertLogs("mine", level="INFO") as cm:
            _phonebridge.log(_phonebridge.LOG_INFO, "sms", "hello")
        self.assertEqual(cm.records[0].getMessage(), "sms: hello")

    def test_handler_that_raises_does_not_break_the_library(self):
        def bad(level, domain, message):
            raise RuntimeError("boom")
        _phonebridge.set_log_handler(bad, _phonebridge.LOG_DEBUG)
        import sys
        saved = sys.unraisablehook
        seen = []
        sys.unraisablehook = lambda u: seen.append(u)
        try:
            _phonebridge.log(_phonebridge.LOG_ERROR, "x", "y")
        finally:
            sys.unraisablehook = saved
        self.assertEqual(len(seen), 1)


class TestNoLeaks(unittest.TestCase):
    def test_many_calls_do_not_grow_memory(self):
        payload = "00" * 64

        def one_round():
            phonebridge.hex_decode(payload)
            try:
                phonebridge.hex_decode("zz")
            except MalformedPDU:
                pass
        assert_no_growth(self, one_round, 20000, 300000)


if __name__ == "__main__":
    unittest.main()
