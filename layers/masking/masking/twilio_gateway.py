"""Sending SMS through Twilio, behind a small interface.

``TwilioGateway`` uses the twilio library's REST client; what carries its HTTP requests is
pluggable: the library's own client in AWS, ``SandboxHttpClient`` locally and in tests,
which records every request and answers like Twilio would, so nothing leaves the machine.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client as TwilioRestClient

from masking.models import OutboundSms, SentSms

# Errors Twilio returns for a request that will never succeed as sent (bad number,
# opted-out recipient, unreachable...). Anything else is worth a retry later.
PERMANENT_SEND_ERRORS = frozenset({21211, 21408, 21610, 21612, 21614, 21617, 21606, 21660})


class SendError(Exception):
    def __init__(self, message: str, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    @property
    def permanent(self) -> bool:
        return self.code in PERMANENT_SEND_ERRORS


class SmsGateway(Protocol):
    def send_sms(self, message: OutboundSms, status_callback: str | None = None) -> SentSms: ...


class TwilioGateway:
    def __init__(self, client: TwilioRestClient, messaging_service_sid: str = "") -> None:
        self._client = client
        self._messaging_service_sid = messaging_service_sid

    @classmethod
    def create(
        cls,
        account_sid: str,
        auth_token: str,
        messaging_service_sid: str = "",
        http_client: HttpClient | None = None,
    ) -> TwilioGateway:
        return cls(TwilioRestClient(account_sid, auth_token, http_client=http_client), messaging_service_sid)

    def send_sms(self, message: OutboundSms, status_callback: str | None = None) -> SentSms:
        options: dict[str, Any] = {"to": message.to_phone, "from_": message.from_number}
        if message.body:
            options["body"] = message.body
        if message.media_urls:
            options["media_url"] = list(message.media_urls)
        if status_callback:
            options["status_callback"] = status_callback
        if self._messaging_service_sid:
            options["messaging_service_sid"] = self._messaging_service_sid
        try:
            created = self._client.messages.create(**options)
        except TwilioRestException as exc:
            raise SendError(str(exc.msg), code=exc.code, status=exc.status) from exc
        return SentSms(sid=str(created.sid), status=str(created.status))


@dataclass(slots=True)
class SandboxRequest:
    """One request the sandbox received instead of Twilio."""

    method: str
    url: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)


@dataclass(slots=True)
class SandboxSms:
    sid: str
    from_number: str
    to_phone: str
    body: str
    media_urls: list[str]
    status_callback: str | None
    at: float


class SandboxHttpClient(HttpClient):
    """Stands in for Twilio's API: records what would have been sent, answers like Twilio.

    ``fail_next(code)`` makes the next request fail with that Twilio error code.
    """

    def __init__(self, on_send: Callable[[SandboxSms], None] | None = None) -> None:
        super().__init__(logger=None, is_async=False)  # type: ignore[arg-type]
        self.requests: list[SandboxRequest] = []
        self.sent: list[SandboxSms] = []
        self._on_send = on_send
        self._failures: list[int] = []
        self._lock = threading.Lock()

    def fail_next(self, code: int = 20500, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([code] * times)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.sent.clear()

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        payload = dict(data or {})
        with self._lock:
            self.requests.append(SandboxRequest(method=method, url=uri, data=payload))
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            body = {"code": failure, "message": f"Sandbox failure {failure}", "status": 400, "more_info": ""}
            return Response(400 if failure < 30000 else 500, json.dumps(body))
        path = urlparse(uri).path
        if method.upper() == "POST" and path.endswith("/Messages.json"):
            return self._create_message(uri, payload)
        return Response(404, json.dumps({"code": 20404, "message": "Not found in sandbox", "status": 404}))

    def _create_message(self, uri: str, data: dict[str, Any]) -> Response:
        sid = f"SM{uuid.uuid4().hex}"
        media = data.get("MediaUrl") or []
        media_urls = [str(url) for url in (media if isinstance(media, list) else [media])]
        sms = SandboxSms(
            sid=sid,
            from_number=str(data.get("From", "")),
            to_phone=str(data.get("To", "")),
            body=str(data.get("Body", "")),
            media_urls=media_urls,
            status_callback=str(data["StatusCallback"]) if data.get("StatusCallback") else None,
            at=time.time(),
        )
        with self._lock:
            self.sent.append(sms)
        if self._on_send is not None:
            self._on_send(sms)
        account_sid = urlparse(uri).path.split("/")[3] if uri.count("/") >= 5 else ""
        resource = {
            "sid": sid,
            "account_sid": account_sid,
            "from": sms.from_number,
            "to": sms.to_phone,
            "body": sms.body,
            "status": "queued",
            "num_media": str(len(media_urls)),
            "direction": "outbound-api",
        }
        return Response(201, json.dumps(resource))
