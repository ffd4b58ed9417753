"""Talking to the carrier's MMSC over HTTP: fetch, retrieve (and answer), send.

    from phonebridge import mmsc
    c = mmsc.Client("http://mms.carrier.example/mms/wapenc", proxy="10.0.0.10:8080",
                    interface="if!wwan0")
    r = c.retrieve(notification_pdu)       # GET + M-NotifyResp.ind, as OMA-MMS-CTR says
    r.message.from_, r.message.text        # the M-Retrieve.conf decoded (an mms.Message)
    r.pdu                                  # ... and its bytes as downloaded
    msg = mms.OutgoingMessage(["+15550102000"], text="hi", subject="Photo")
    msg.attach(jpeg_bytes, "image/jpeg", "cat.jpg")
    conf = c.send(msg)                     # SendConf(response_status=128, message_id=...)
    conf = c.send_pdu(m_send_req_pdu)      # an M-Send.req encoded already

Every call releases the GIL while libcurl works; one call at a time runs on
a client. Errors are the package's exceptions; the HTTP details of a failed
call ride on the exception (``.http`` after fetch, ``.retrieval`` after
retrieve, ``.conf`` after send).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

from . import _phonebridge
from .errors import PhoneBridgeError
from .mms import Message, OutgoingMessage, decode, token_name

__all__ = ["Client", "HttpResult", "Retrieval", "SendConf", "rewrite_location",
           "POST_NOTIFYRESP", "POST_ACK", "POST_SEND"]

#: what :meth:`Client.post` sends, which decides whether a failure is retried
POST_NOTIFYRESP: int = _phonebridge.MMSC_POST_NOTIFYRESP
POST_ACK: int = _phonebridge.MMSC_POST_ACK
POST_SEND: int = _phonebridge.MMSC_POST_SEND


def rewrite_location(rule: str, location: str, mmsc_url: Optional[str] = None) -> Optional[str]:
    """Apply one Content-Location rewrite rule (``"base=mmsc keep=query"``,
    ``"host=mms.carrier.example:8002"``, ... see docs/mmsc.md) without a
    client; None when the rule's ``match=`` does not match. InvalidArgument
    for a bad rule or a result that is not an http(s) URL."""
    return _phonebridge.mmsc_rewrite_location(rule, mmsc_url, location)


@dataclass(frozen=True)
class HttpResult:
    http_status: int      #: last HTTP status, 0 when none arrived
    attempts: int
    bytes: int
    content_type: str
    location: str         #: Location of a redirect not followed, else ""
    url: str              #: the URL finally requested (after rewrite)


@dataclass(frozen=True)
class Retrieval:
    """What :meth:`Client.retrieve` did."""

    pdu: bytes            #: the body as downloaded: an M-Retrieve.conf on success
    retrieve_status: int  #: X-Mms-Retrieve-Status, 0 when absent (= Ok)
    answer_status: int    #: X-Mms-Status answered (or to answer, with no_answer)
    answered: bool        #: the answer reached the MMSC
    http: HttpResult
    message: Optional[Message] = None
    """the M-Retrieve.conf decoded, as :func:`phonebridge.mms.decode` gives
    it (part bodies are memoryviews of ``pdu``); None when the body did not
    decode as one. Also set when the MMSC answered with an error status."""


_RESPONSE_STATUS = 0x12  # X-Mms-Response-Status


@dataclass(frozen=True)
class SendConf:
    """The MMSC's M-Send.conf."""

    response_status: int  #: X-Mms-Response-Status (128 = Ok)
    response_text: Optional[str]
    message_id: Optional[str]
    transaction_id: Optional[str]
    http: HttpResult

    @property
    def ok(self) -> bool:
        """The MMSC accepted the message (response status Ok)."""
        return self.response_status == 128

    @property
    def status_name(self) -> Optional[str]:
        """The spec's name of the response status ("Ok",
        "Error-permanent-sending-address-unresolved", ...)."""
        return token_name(_RESPONSE_STATUS, self.response_status)


def _http(d: Dict[str, Any]) -> HttpResult:
    return HttpResult(**d)


def _retrieval(d: Dict[str, Any]) -> Retrieval:
    pdu = d["pdu"]
    return Retrieval(pdu, d["retrieve_status"], d["answer_status"], d["answered"],
                     HttpResult(**d["http"]), decode(pdu) if d["decoded"] else None)


def _conf(d: Dict[str, Any]) -> SendConf:
    return SendConf(d["response_status"], d["response_text"], d["message_id"],
                    d["transaction_id"], HttpResult(**d["http"]))


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Call into C; give the exception's diagnostics Python shapes."""
    try:
        return fn(*args)
    except PhoneBridgeError as e:
        shapes: Tuple[Tuple[str, Callable[[Dict[str, Any]], Any]], ...] = (
            ("http", _http), ("retrieval", _retrieval), ("conf", _conf))
        for name, shape in shapes:
            value = getattr(e, name, None)
            if isinstance(value, dict):
                setattr(e, name, shape(value))
        raise


class Client:
    """An MMSC client; the options are those of ``pb_mmsc_options`` (docs/mmsc.md).

    ``progress(now, total)`` is called during downloads (return True to
    abort: CancelledError); an exception it raises ends the download and
    propagates.
    """

    def __init__(self, mmsc_url: Optional[str] = None, *, proxy: Optional[str] = None,
                 interface: Optional[str] = None, user_agent: Optional[str] = None,
                 wap_profile: Optional[str] = None, extra_headers: Sequence[str] = (),
                 max_download: int = 0, connect_timeout_ms: int = 0, timeout_ms: int = 0,
                 retry_attempts: int = 0, retry_initial_delay_ms: int = 0,
                 retry_max_delay_ms: int = 0,
                 retry_send: bool = False, max_redirects: int = 0, ca_file: Optional[str] = None,
                 tls_insecure: bool = False, rewrite_rules: Sequence[str] = (),
                 progress: Optional[Callable[[int, int], bool]] = None,
                 report_allowed: int = 0, stall_timeout_ms: int = 0,
                 attempts: Optional[int] = None, retry_initial_ms: Optional[int] = None,
                 retry_max_ms: Optional[int] = None) -> None:
        for old, new in (("attempts", "retry_attempts"), ("retry_initial_ms", "retry_initial_delay_ms"),
                         ("retry_max_ms", "retry_max_delay_ms")):
            if locals()[old] is not None:
                warnings.warn(f"{old} is deprecated (removed in 1.0): use {new}", DeprecationWarning, stacklevel=2)
        if attempts is not None:
            retry_attempts = attempts
        if retry_initial_ms is not None:
            retry_initial_delay_ms = retry_initial_ms
        if retry_max_ms is not None:
            retry_max_delay_ms = retry_max_ms
        self._c = _phonebridge.Mmsc(mmsc_url, proxy, interface, user_agent, wap_profile,
                                    list(extra_headers), max_download, connect_timeout_ms,
                                    timeout_ms, retry_attempts, retry_initial_delay_ms,
                                    retry_max_delay_ms,
                                    retry_send, max_redirects, ca_file, tls_insecure,
                                    list(rewrite_rules), progress, report_allowed,
                                    stall_timeout_ms)

    def fetch(self, location: str) -> Tuple[bytes, HttpResult]:
        """GET a Content-Location (after the rewrite rules); the body must be an MMS PDU."""
        body, http = _call(self._c.fetch, location)
        return body, HttpResult(**http)

    def rewrite(self, location: str) -> str:
        """The URL fetch() would request for ``location``."""
        return self._c.rewrite(location)

    def retrieve(self, notification: bytes, *, received: int = 0, later: bool = False,
                 no_answer: bool = False) -> Retrieval:
        """Retrieve what an M-Notification.ind (its PDU bytes) announces and
        answer the MMSC (Retrieved, Deferred, Rejected, Unrecognised) as
        OMA-MMS-CTR says. ``received``: unix seconds the notification came
        (relative expiry); ``later``: a fetch deferred before (acknowledge
        instead); ``no_answer``: answer nothing."""
        return _retrieval(_call(self._c.retrieve, notification, received, later, no_answer))

    def notifyresp(self, transaction_id: str, status: int) -> HttpResult:
        """Send an M-NotifyResp.ind (``status``: mms.STATUS_RETRIEVED,
        _DEFERRED, _REJECTED, _UNRECOGNISED) yourself, e.g. after
        ``retrieve(..., no_answer=True)``."""
        return _http(_call(self._c.notifyresp, transaction_id, status))

    def acknowledge(self, transaction_id: str) -> HttpResult:
        """Send an M-Acknowledge.ind (after a deferred message was fetched)."""
        return _http(_call(self._c.acknowledge, transaction_id))

    def post(self, kind: int, pdu: Union[bytes, bytearray, memoryview]) -> Tuple[bytes, HttpResult]:
        """POST any encoded PDU to the MMSC URL; ``kind`` (POST_NOTIFYRESP,
        POST_ACK, POST_SEND) decides the retries and whether the answer
        must be an MMS PDU. Returns (answer bytes, HttpResult)."""
        answer, http = _call(self._c.post, kind, pdu)
        return answer, _http(http)

    def send(self, message: Union[OutgoingMessage, bytes, bytearray, memoryview]) -> SendConf:
        """Send a message: an :class:`~phonebridge.mms.OutgoingMessage`
        (encoded as an M-Send.req by the library's encoder), or the bytes of
        an encoded M-Send.req (as :meth:`send_pdu`). Returns the M-Send.conf;
        ProtocolError when the MMSC refused the message (``.conf`` on the
        exception holds its answer), InvalidArgument for a message the
        encoder refuses (no recipient). Not retried unless ``retry_send``."""
        if isinstance(message, (bytes, bytearray, memoryview)):
            return self.send_pdu(message)
        if not isinstance(message, OutgoingMessage):
            raise TypeError("send() takes an mms.OutgoingMessage or M-Send.req bytes, not "
                            + type(message).__name__)
        return _conf(_call(self._c.send_message, message._fields()))

    def send_pdu(self, m_send_req: Union[bytes, bytearray, memoryview]) -> SendConf:
        """POST an encoded M-Send.req; the M-Send.conf (errors as :meth:`send`)."""
        return _conf(_call(self._c.send, m_send_req))
