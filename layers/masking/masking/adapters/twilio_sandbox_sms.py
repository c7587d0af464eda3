"""The SMS side of the Twilio sandbox: send faults and the Messages list.

Mixed into ``SandboxHttpClient`` (``masking.adapters.twilio_sandbox``), which owns the
lock, the recorded ``sent`` messages and the clock. Fault kinds (``SEND_FAULTS``) for
``POST .../Messages.json``: HTTP 429 / 500 / 503 with Twilio codes 20429 / 20500 / 20503;
``connection`` (a reset connection) and ``read_timeout`` (no answer, nothing created);
``accepted_lost`` (created, then the answer is lost: a read timeout) and ``accepted_500``
(created, then a 500): the two after which Twilio has the message though the send failed.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlparse

import requests.exceptions
from twilio.http.response import Response


@dataclass(slots=True)
class SandboxSms:
    sid: str
    from_number: str
    to_phone: str
    body: str
    media_urls: list[str]
    status_callback: str | None
    at: float


# Send fault kinds (see the module docstring) and what each does.
SEND_FAULTS = ("429", "500", "503", "connection", "read_timeout", "accepted_lost", "accepted_500")
_HTTP_FAULTS = {"429": (429, 20429), "500": (500, 20500), "503": (503, 20503), "accepted_500": (500, 20500)}


def v2010_page(key: str, records: list[dict[str, Any]], first_page: str, page_size: int) -> Response:
    """Every record on one page, shaped like a Twilio 2010-04-01 list answer."""
    body = {
        key: records,
        "uri": first_page,
        "first_page_uri": first_page,
        "next_page_uri": None,
        "previous_page_uri": None,
        "page": 0,
        "page_size": page_size,
        "start": 0,
        "end": max(len(records) - 1, 0),
    }
    return Response(200, json.dumps(body))


def twilio_error(status: int, code: int, message: str) -> Response:
    """An error answer shaped like Twilio's (every sandbox module answers its errors so)."""
    body = {"code": code, "message": message, "status": status, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return Response(status, json.dumps(body))


def rfc2822(epoch: float | None = None) -> str:
    """A resource date as Twilio writes it (RFC 2822, GMT): ``epoch`` seconds, or now."""
    return format_datetime(datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC), usegmt=True)


class SandboxSendFaults:
    _lock: threading.Lock
    sent: list[SandboxSms]
    clock: Callable[[], float]
    _create_message: Callable[[str, dict[str, Any]], Response]  # SandboxHttpClient's: records the message

    def _init_send_faults(self) -> None:
        self._send_faults: list[str | None] = []
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = ()
        self._fault_rng = random.Random(0)
        self.faults_injected: dict[str, int] = {}

    def fail_next_send(self, kind: str, times: int = 1, after: int = 0) -> None:
        """After ``after`` more sends go through, the next ``times`` sends (POST
        .../Messages.json) fail with ``kind`` (one of ``SEND_FAULTS``)."""
        if kind not in SEND_FAULTS:
            raise ValueError(f"unknown send fault {kind!r}")
        with self._lock:
            self._send_faults.extend([None] * after + [kind] * times)

    def set_send_faults(self, rate: float, kinds: tuple[str, ...] | list[str] = SEND_FAULTS, seed: int = 0) -> None:
        """From now on each send fails with probability ``rate``, with a kind drawn from
        ``kinds`` (seeded, so a run can be repeated)."""
        if not 0 <= rate <= 1 or any(kind not in SEND_FAULTS for kind in kinds):
            raise ValueError("rate must be from 0 to 1 and kinds among SEND_FAULTS")
        with self._lock:
            self._fault_rate, self._fault_kinds, self._fault_rng = rate, tuple(kinds), random.Random(seed)

    def _draw_send_fault(self) -> str | None:
        if self._send_faults:
            return self._send_faults.pop(0)
        if self._fault_rate and self._fault_rng.random() < self._fault_rate:
            return self._fault_rng.choice(self._fault_kinds)
        return None

    def _send_with_fault(self, uri: str, data: dict[str, Any], fault: str | None) -> Response:
        if fault == "connection":
            raise requests.exceptions.ConnectionError("sandbox: connection reset by peer")
        if fault == "read_timeout":
            raise requests.exceptions.ReadTimeout("sandbox: read timed out (the message never reached Twilio)")
        if fault in ("429", "500", "503"):
            status, code = _HTTP_FAULTS[fault]
            return twilio_error(status, code, f"Sandbox fault {fault}")
        created = self._create_message(uri, data)
        if fault == "accepted_lost":
            raise requests.exceptions.ReadTimeout("sandbox: read timed out (Twilio accepted the message)")
        if fault == "accepted_500":
            return twilio_error(500, 20500, "Sandbox fault: accepted, then an internal error")
        return created

    def _list_messages(self, uri: str, query: dict[str, Any]) -> Response:
        """``GET .../Messages.json``: outbound messages, newest first, filtered on To / From."""
        to_phone, from_number = str(query.get("To", "")), str(query.get("From", ""))
        try:
            page_size = max(1, min(int(str(query.get("PageSize", 50))), 1000))
        except ValueError:
            page_size = 50
        with self._lock:
            found = [sms for sms in reversed(self.sent) if (not to_phone or sms.to_phone == to_phone)]
        found = [sms for sms in found if not from_number or sms.from_number == from_number][:page_size]
        path = urlparse(uri).path
        account_sid = path.split("/")[3] if path.count("/") >= 4 else ""
        messages = [self._message_resource(account_sid, sms) for sms in found]
        return v2010_page("messages", messages, f"{path}?PageSize={page_size}&Page=0", page_size)

    @staticmethod
    def _message_resource(account_sid: str, sms: SandboxSms) -> dict[str, Any]:
        created = rfc2822(sms.at)
        return {
            "sid": sms.sid,
            "account_sid": account_sid,
            "from": sms.from_number,
            "to": sms.to_phone,
            "body": sms.body,
            "status": "queued",
            "num_media": str(len(sms.media_urls)),
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": created,
            "date_updated": created,
            "date_sent": None,
            "api_version": "2010-04-01",
        }
