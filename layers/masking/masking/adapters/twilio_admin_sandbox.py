"""The recording sandbox, extended with what ``tools.setup`` and ``tools.doctor`` call.

``AdminSandboxHttpClient`` answers, on top of ``SandboxHttpClient``:

- ``GET /2010-04-01/Accounts/{AC}.json`` (the credential check; with ``credentials`` set,
  other credentials get 401 / Twilio error 20003 as Twilio answers them);
- ``GET .../IncomingPhoneNumbers.json`` (the account's numbers) and updates that set
  ``SmsFallbackUrl`` / ``VoiceFallbackUrl`` too;
- ``GET`` / ``POST messaging /v1/Services/{MG}`` (read it, set ``UseInboundWebhookOnNumber``) and
  ``GET /v1/Services/{MG}/PhoneNumbers``;
- Twilio Proxy: ``GET /v1/Services/{KS}/PhoneNumbers``, ``DELETE .../PhoneNumbers/{PN}``,
  ``GET /v1/Services/{KS}/Sessions`` and ``GET .../Sessions/{KZ}/Participants``.

Seed it with ``own_number``, ``add_messaging_service``, ``add_proxy_service`` and
``add_proxy_session``. Like its parent it never sends anything anywhere.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from twilio.http.response import Response

from masking.adapters.twilio_sandbox import SandboxHttpClient, number_resource
from masking.adapters.twilio_sandbox_sms import rfc2822, twilio_error, v2010_page
from masking.core.ports import NOT_FOUND

AUTHENTICATION_FAILED = 20003

_ACCOUNT_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)\.json$")
_NUMBERS_LIST_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/IncomingPhoneNumbers\.json$")
_MESSAGING_SERVICE_PATH = re.compile(r"^/v1/Services/(MG\w+)$")
_MESSAGING_NUMBERS_PATH = re.compile(r"^/v1/Services/(MG\w+)/PhoneNumbers$")
_PROXY_NUMBERS_PATH = re.compile(r"^/v1/Services/(KS\w+)/PhoneNumbers$")
_PROXY_NUMBER_PATH = re.compile(r"^/v1/Services/(KS\w+)/PhoneNumbers/(PN\w+)$")
_PROXY_SESSIONS_PATH = re.compile(r"^/v1/Services/(KS\w+)/Sessions$")
_PROXY_PARTICIPANTS_PATH = re.compile(r"^/v1/Services/(KS\w+)/Sessions/(KZ\w+)/Participants$")


@dataclass(slots=True)
class SandboxMessagingService:
    sid: str
    friendly_name: str = "masking"
    use_inbound_webhook_on_number: bool = True
    inbound_request_url: str = ""


@dataclass(slots=True)
class SandboxProxySession:
    sid: str
    status: str
    unique_name: str
    participants: list[dict[str, Any]] = field(default_factory=list)


def _v1_page(key: str, url: str, records: list[dict[str, Any]]) -> Response:
    meta = {
        "key": key,
        "page": 0,
        "page_size": max(len(records), 1),
        "first_page_url": url,
        "previous_page_url": None,
        "next_page_url": None,
        "url": url,
    }
    return Response(200, json.dumps({key: records, "meta": meta}))


class AdminSandboxHttpClient(SandboxHttpClient):
    updatable_number_fields: dict[str, str] = {
        **SandboxHttpClient.updatable_number_fields,
        "SmsFallbackMethod": "sms_fallback_method",
        "VoiceFallbackMethod": "voice_fallback_method",
    }

    def __init__(self, *args: Any, credentials: tuple[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.credentials = credentials
        self.services: dict[str, SandboxMessagingService] = {}
        self.proxy_services: dict[str, list[str]] = {}  # KS sid -> number sids in its pool
        self.proxy_sessions: dict[str, list[SandboxProxySession]] = {}

    # ---- seeding
    def own_number(
        self,
        number: str,
        sms_url: str = "",
        voice_url: str = "",
        sms_fallback_url: str = "",
        voice_fallback_url: str = "",
        account_sid: str = "",
    ) -> str:
        """An incoming number the account already has (bought elsewhere); returns its sid."""
        sid = f"PN{uuid.uuid4().hex}"
        resource = number_resource(
            sid,
            number,
            account_sid,
            f"/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}.json",
            sms_url=sms_url,
            sms_fallback_url=sms_fallback_url,
            sms_fallback_method="POST",
            voice_url=voice_url,
            voice_fallback_url=voice_fallback_url,
            voice_fallback_method="POST",
        )
        with self._lock:
            self.numbers[sid] = resource
            self.bought.append(number)  # never offered by a search again
        return sid

    def sid_of(self, number: str) -> str:
        with self._lock:
            return next(sid for sid, resource in self.numbers.items() if resource["phone_number"] == number)

    def add_messaging_service(self, sid: str, use_inbound_webhook_on_number: bool = True, inbound_request_url: str = "") -> None:
        with self._lock:
            self.services[sid] = SandboxMessagingService(sid, "masking", use_inbound_webhook_on_number, inbound_request_url)
            self.messaging_services.setdefault(sid, set())

    def add_proxy_service(self, sid: str, number_sids: list[str]) -> None:
        with self._lock:
            self.proxy_services[sid] = list(number_sids)
            self.proxy_sessions.setdefault(sid, [])

    def add_proxy_session(self, service_sid: str, participants: list[tuple[str, str, str]], status: str = "in-progress") -> str:
        """``participants``: (identifier = real phone, proxy_identifier = the number they see, friendly name)."""
        sid = f"KZ{uuid.uuid4().hex}"
        session = SandboxProxySession(
            sid=sid,
            status=status,
            unique_name=sid,
            participants=[
                {
                    "sid": f"KP{uuid.uuid4().hex}",
                    "session_sid": sid,
                    "service_sid": service_sid,
                    "identifier": identifier,
                    "proxy_identifier": proxy,
                    "friendly_name": name,
                }
                for identifier, proxy, name in participants
            ],
        )
        with self._lock:
            self.proxy_sessions.setdefault(service_sid, []).append(session)
        return sid

    # ---- requests
    def _answer(self, method: str, uri: str, payload: dict[str, Any], query: dict[str, Any], auth: tuple[str, str] | None) -> Response:
        if self.credentials is not None and auth is not None and tuple(auth) != self.credentials:
            self._record(method, uri, payload, query, draw_failure=False)
            return twilio_error(401, AUTHENTICATION_FAILED, "Authenticate")
        parsed = urlparse(uri)
        handler = self._admin_handler(method.upper(), parsed.netloc.split(".")[0], parsed.path)
        if handler is None:
            return super()._answer(method, uri, payload, query, auth)
        failure = self._record(method, uri, payload, query)
        if failure is not None:
            return twilio_error(400 if failure < 30000 else 500, failure, f"Sandbox failure {failure}")
        return handler(uri, payload if method.upper() == "POST" else query)

    def _admin_handler(self, verb: str, host: str, path: str) -> Any:
        if host == "api":
            if verb == "GET" and (match := _ACCOUNT_PATH.match(path)):
                return lambda uri, query: self._account(match.group(1))
            if verb == "GET" and _NUMBERS_LIST_PATH.match(path):
                return self._list_numbers
            return None
        if host == "messaging" and verb == "POST" and (match := _MESSAGING_SERVICE_PATH.match(path)):
            return lambda uri, form: self._update_messaging_service(match.group(1), form)
        if host == "messaging" and verb == "GET":
            if match := _MESSAGING_SERVICE_PATH.match(path):
                return lambda uri, query: self._messaging_service(match.group(1))
            if match := _MESSAGING_NUMBERS_PATH.match(path):
                return lambda uri, query: self._messaging_numbers(uri, match.group(1))
            return None
        if host == "proxy":
            if verb == "GET" and (match := _PROXY_NUMBERS_PATH.match(path)):
                return lambda uri, query: self._proxy_numbers(uri, match.group(1))
            if verb == "DELETE" and (match := _PROXY_NUMBER_PATH.match(path)):
                return lambda uri, query: self._proxy_remove(match.group(1), match.group(2))
            if verb == "GET" and (match := _PROXY_SESSIONS_PATH.match(path)):
                return lambda uri, query: self._proxy_session_list(uri, match.group(1))
            if verb == "GET" and (match := _PROXY_PARTICIPANTS_PATH.match(path)):
                return lambda uri, query: self._proxy_participants(uri, match.group(1), match.group(2))
        return None

    def _account(self, account_sid: str) -> Response:
        now = rfc2822()
        body = {
            "sid": account_sid,
            "friendly_name": "Sandbox account",
            "status": "active",
            "type": "Full",
            "owner_account_sid": account_sid,
            "date_created": now,
            "date_updated": now,
            "uri": f"/2010-04-01/Accounts/{account_sid}.json",
            "subresource_uris": {},
        }
        return Response(200, json.dumps(body))

    def _list_numbers(self, uri: str, query: dict[str, Any]) -> Response:
        wanted = str(query.get("PhoneNumber", "") or "")
        with self._lock:
            records = [dict(r) for r in self.numbers.values() if not wanted or r["phone_number"] == wanted]
        ordered = sorted(records, key=lambda r: str(r["phone_number"]))
        return v2010_page("incoming_phone_numbers", ordered, urlparse(uri).path, max(len(records), 1))

    def _messaging_service(self, sid: str) -> Response:
        with self._lock:
            service = self.services.get(sid)
        if service is None:
            return twilio_error(404, NOT_FOUND, f"The requested resource /Services/{sid} was not found")
        body = {
            "sid": sid,
            "friendly_name": service.friendly_name,
            "inbound_request_url": service.inbound_request_url or None,
            "inbound_method": "POST",
            "use_inbound_webhook_on_number": service.use_inbound_webhook_on_number,
            "url": f"https://messaging.twilio.com/v1/Services/{sid}",
        }
        return Response(200, json.dumps(body))

    def _update_messaging_service(self, sid: str, form: dict[str, Any]) -> Response:
        with self._lock:
            service = self.services.get(sid)
            if service is not None and "UseInboundWebhookOnNumber" in form:
                service.use_inbound_webhook_on_number = str(form["UseInboundWebhookOnNumber"]).lower() == "true"
        return self._messaging_service(sid)

    def _messaging_numbers(self, uri: str, service_sid: str) -> Response:
        with self._lock:
            members = sorted(self.messaging_services.get(service_sid, set()))
            records = [
                {"sid": sid, "service_sid": service_sid, "phone_number": self.numbers[sid]["phone_number"], "country_code": "US"}
                for sid in members
                if sid in self.numbers
            ]
        return _v1_page("phone_numbers", uri.split("?")[0], records)

    def _proxy_numbers(self, uri: str, service_sid: str) -> Response:
        with self._lock:
            if service_sid not in self.proxy_services:
                return twilio_error(404, NOT_FOUND, f"The requested resource /Services/{service_sid} was not found")
            records = [
                {"sid": sid, "service_sid": service_sid, "phone_number": self.numbers[sid]["phone_number"], "iso_country": "US"}
                for sid in self.proxy_services[service_sid]
                if sid in self.numbers
            ]
        return _v1_page("phone_numbers", uri.split("?")[0], records)

    def _proxy_remove(self, service_sid: str, number_sid: str) -> Response:
        with self._lock:
            pool = self.proxy_services.get(service_sid)
            if pool is None or number_sid not in pool:
                return twilio_error(
                    404, NOT_FOUND, f"The requested resource /Services/{service_sid}/PhoneNumbers/{number_sid} was not found"
                )
            pool.remove(number_sid)
        return Response(204, "")

    def _proxy_session_list(self, uri: str, service_sid: str) -> Response:
        with self._lock:
            if service_sid not in self.proxy_services:
                return twilio_error(404, NOT_FOUND, f"The requested resource /Services/{service_sid} was not found")
            records = [
                {"sid": s.sid, "service_sid": service_sid, "status": s.status, "unique_name": s.unique_name}
                for s in self.proxy_sessions.get(service_sid, [])
            ]
        return _v1_page("sessions", uri.split("?")[0], records)

    def _proxy_participants(self, uri: str, service_sid: str, session_sid: str) -> Response:
        with self._lock:
            session = next((s for s in self.proxy_sessions.get(service_sid, []) if s.sid == session_sid), None)
            records = [dict(p) for p in session.participants] if session else []
        if session is None:
            return twilio_error(404, NOT_FOUND, f"The requested resource /Sessions/{session_sid} was not found")
        return _v1_page("participants", uri.split("?")[0], records)
