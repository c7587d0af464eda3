"""A stand-in for Twilio's REST API: records every request, answers like Twilio would.

``SandboxHttpClient`` plugs into the twilio library's ``Client`` as its HTTP client, so the
real ``TwilioGateway`` code runs against it: locally (``TWILIO_TRANSPORT=sandbox``), in the
tests and in the benchmarks. Nothing leaves the machine. It emulates sending SMS, number
search and purchase, webhook configuration, Messaging Service membership, release,
outbound calls, and the Messages list (``GET .../Messages.json`` with ``To`` / ``From``,
newest first, as used to reconcile a lost send).

Send faults (``fail_next_send``, ``set_send_faults``) make ``POST .../Messages.json`` fail
the ways Twilio and the network do: HTTP 429 / 500 / 503 with codes 20429 / 20500 /
20503, a connection error, a read timeout before Twilio took the message, and the two
ambiguous ones, accepted then a read timeout (``accepted_lost``) and accepted then a 500
(``accepted_500``): the message exists at Twilio but the answer says it failed.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from twilio.http import HttpClient
from twilio.http.response import Response

from masking.adapters.twilio_sandbox_sms import SandboxSendFaults, SandboxSms, rfc2822, twilio_error, v2010_page
from masking.core.ports import (
    ALREADY_IN_MESSAGING_SERVICE,
    IN_OTHER_MESSAGING_SERVICE,
    INVALID_PHONE_NUMBER,
    NOT_FOUND,
    NUMBER_NOT_AVAILABLE,
)


@dataclass(slots=True)
class SandboxRequest:
    """One request the sandbox received instead of Twilio."""

    method: str
    url: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SandboxCall:
    """An outbound call the sandbox "placed" (POST .../Calls.json)."""

    sid: str
    from_number: str
    to_phone: str
    url: str
    status_callback: str | None
    status_callback_events: list[str]
    record: bool
    at: float


DEFAULT_SANDBOX_AVAILABLE: dict[str, int] = {"303": 20, "720": 20}

_SANDBOX_LOCALITIES: dict[str, tuple[str, str]] = {"303": ("Denver", "CO"), "720": ("Denver", "CO")}

_SANDBOX_NUMBER = re.compile(r"^\+1(\d{3})555(\d{4})$")
# +1<area>5555000 is the first number offered in an area code: lines 5000-9999 are for sale,
# disjoint from every real phone of the demo and the tests (555-0100 .. 555-2999).
_FIRST_SANDBOX_LINE = 5000
_INCOMING_NUMBER_PATH = re.compile(r"/IncomingPhoneNumbers/(PN[0-9a-fA-F]{32})\.json$")

_SERVICE_NUMBERS_PATH = re.compile(r"^/v1/Services/([^/]+)/PhoneNumbers$")


@dataclass(slots=True)
class _FailureRule:
    fragment: str
    code: int
    method: str | None


_HTTP_STATUS_OF = {20429: 429, 20500: 500, 20503: 503}


def number_resource(sid: str, number: str, account_sid: str, uri: str, **settings: str) -> dict[str, Any]:
    """An IncomingPhoneNumber resource as Twilio answers it: ``settings`` (webhook URLs and
    methods, friendly name, by resource key) over empty URLs and POST methods."""
    now = rfc2822()
    resource: dict[str, Any] = {
        "sid": sid,
        "account_sid": account_sid,
        "friendly_name": f"({number[2:5]}) {number[5:8]}-{number[8:]}",
        "phone_number": number,
        "sms_url": "",
        "sms_method": "POST",
        "voice_url": "",
        "voice_method": "POST",
        "sms_fallback_url": "",
        "voice_fallback_url": "",
        "status_callback": "",
        "status_callback_method": "POST",
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
        "api_version": "2010-04-01",
        "date_created": now,
        "date_updated": now,
        "origin": "twilio",
        "status": "in-use",
        "uri": uri,
    }
    return resource | settings


class SandboxHttpClient(SandboxSendFaults, HttpClient):
    """Stands in for Twilio's API: records what would have been sent, answers like Twilio.

    ``fail_next(code)`` makes the next request fail with that Twilio error code;
    ``fail_next_matching(fragment, code)`` only the next request whose URL contains ``fragment``.

    Numbers: ``available`` maps an area code to how many numbers Twilio has to offer there
    (unlisted area codes have none). Offered numbers are fictional and deterministic,
    ``+1<area>555`` then 5000, 5001, ..., skipping any number ever bought here; buying one
    takes it out of that area code's inventory (the count drops by one).
    Owned numbers live in ``numbers`` (sid -> IncomingPhoneNumber resource), every purchase in
    ``bought``, Messaging Service membership in ``messaging_services`` (service sid -> number sids).
    Outbound calls (``POST .../Calls.json``) are recorded in ``calls`` and answered ``queued``.
    """

    # IncomingPhoneNumber update parameter -> resource key (the admin sandbox takes more).
    updatable_number_fields: dict[str, str] = {
        "SmsUrl": "sms_url",
        "SmsMethod": "sms_method",
        "VoiceUrl": "voice_url",
        "VoiceMethod": "voice_method",
        "SmsFallbackUrl": "sms_fallback_url",
        "VoiceFallbackUrl": "voice_fallback_url",
        "StatusCallback": "status_callback",
        "StatusCallbackMethod": "status_callback_method",
        "FriendlyName": "friendly_name",
    }

    def __init__(
        self,
        on_send: Callable[[SandboxSms], None] | None = None,
        available: dict[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(logger=None, is_async=False)  # type: ignore[arg-type]
        self.clock = clock  # epoch seconds: the messages' date_created
        self._init_send_faults()
        self.requests: list[SandboxRequest] = []
        self.sent: list[SandboxSms] = []
        self.calls: list[SandboxCall] = []
        self.numbers: dict[str, dict[str, Any]] = {}
        self.bought: list[str] = []
        self.messaging_services: dict[str, set[str]] = {}
        self._available: dict[str, int] = dict(DEFAULT_SANDBOX_AVAILABLE if available is None else available)
        self._on_send = on_send
        self._failures: list[int] = []
        self._matching_failures: list[_FailureRule] = []
        self._lock = threading.Lock()

    def fail_next(self, code: int = 20500, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([code] * times)

    def fail_next_matching(self, path_fragment: str, code: int = 20500, times: int = 1, method: str | None = None) -> None:
        """Fails the next ``times`` requests whose URL contains ``path_fragment`` (and, if given, use ``method``)."""
        with self._lock:
            self._matching_failures.extend(_FailureRule(path_fragment, code, method.upper() if method else None) for _ in range(times))

    def set_available(self, area_code: str, count: int) -> None:
        """How many numbers Twilio has to offer in ``area_code`` from now on."""
        with self._lock:
            self._available[str(area_code)] = max(0, int(count))

    def offered(self, area_code: str) -> list[str]:
        """The numbers a search in ``area_code`` would offer right now (all of them, in order)."""
        with self._lock:
            return self._offered_locked(str(area_code), None)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.sent.clear()
            self.calls.clear()

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
        return self._answer(method, uri, dict(data or {}), dict(params or {}), auth)

    def _record(self, method: str, uri: str, payload: dict[str, Any], query: dict[str, Any], draw_failure: bool = True) -> int | None:
        """Records the request; returns the Twilio error code it is to fail with, if one is queued."""
        with self._lock:
            self.requests.append(SandboxRequest(method=method, url=uri, data=payload, params=query))
            if not draw_failure:
                return None
            return self._failures.pop(0) if self._failures else self._pop_matching_failure(method.upper(), uri)

    def _answer(self, method: str, uri: str, payload: dict[str, Any], query: dict[str, Any], auth: tuple[str, str] | None) -> Response:
        """What ``request`` answers (the admin sandbox answers more)."""
        verb = method.upper()
        failure = self._record(method, uri, payload, query)
        if failure is not None:
            status = _HTTP_STATUS_OF.get(failure, 400 if failure < 30000 else 500)
            body = {"code": failure, "message": f"Sandbox failure {failure}", "status": status, "more_info": ""}
            return Response(status, json.dumps(body))
        path = urlparse(uri).path
        if verb == "POST" and path.endswith("/Messages.json"):
            with self._lock:
                fault = self._draw_send_fault()
                if fault is not None:
                    self.faults_injected[fault] = self.faults_injected.get(fault, 0) + 1
            return self._send_with_fault(uri, payload, fault)
        if verb == "GET" and path.endswith("/Messages.json"):
            return self._list_messages(uri, query)
        if verb == "POST" and path.endswith("/Calls.json"):
            return self._create_call(uri, payload)
        if verb == "GET" and re.search(r"/AvailablePhoneNumbers/[A-Z]{2}/Local\.json$", path):
            return self._search_local(uri, query)
        if verb == "POST" and path.endswith("/IncomingPhoneNumbers.json"):
            return self._buy_number(uri, payload)
        incoming = _INCOMING_NUMBER_PATH.search(path)
        if incoming and verb == "POST":
            return self._update_number(incoming.group(1), payload)
        if incoming and verb == "DELETE":
            return self._release_number(incoming.group(1))
        if incoming and verb == "GET":
            with self._lock:
                found = self.numbers.get(incoming.group(1))
                resource = dict(found) if found else None
            if resource is None:
                return twilio_error(404, NOT_FOUND, f"The requested resource {path} was not found")
            return Response(200, json.dumps(resource))
        service = _SERVICE_NUMBERS_PATH.match(path)
        if service and verb == "POST":
            return self._add_to_service(uri, service.group(1), payload)
        return Response(404, json.dumps({"code": 20404, "message": "Not found in sandbox", "status": 404}))

    def _pop_matching_failure(self, verb: str, uri: str) -> int | None:
        for index, rule in enumerate(self._matching_failures):
            if rule.fragment in uri and (rule.method is None or rule.method == verb):
                del self._matching_failures[index]
                return rule.code
        return None

    # --- phone numbers (call with self._lock held where noted) ----------------------------

    def _offered_locked(self, area_code: str, limit: int | None) -> list[str]:
        count = self._available.get(area_code, 0)
        if limit is not None:
            count = min(count, limit)
        if count <= 0 or not re.fullmatch(r"\d{3}", area_code):
            return []
        taken = set(self.bought)
        offered: list[str] = []
        for line in range(_FIRST_SANDBOX_LINE, 10000):
            number = f"+1{area_code}555{line:04d}"
            if number not in taken:
                offered.append(number)
                if len(offered) >= count:
                    break
        return offered

    def _search_local(self, uri: str, query: dict[str, Any]) -> Response:
        area_code = str(query.get("AreaCode", ""))
        try:
            page_size = max(1, min(int(str(query.get("PageSize", 50))), 1000))
        except ValueError:
            page_size = 50
        with self._lock:
            numbers = self._offered_locked(area_code, page_size) if area_code else []
        locality, region = _SANDBOX_LOCALITIES.get(area_code, ("Sandbox", "US"))
        records = [
            {
                "friendly_name": f"({number[2:5]}) {number[5:8]}-{number[8:]}",
                "phone_number": number,
                "lata": None,
                "locality": locality,
                "rate_center": locality.upper(),
                "latitude": None,
                "longitude": None,
                "region": region,
                "postal_code": None,
                "iso_country": "US",
                "address_requirements": "none",
                "beta": False,
                "capabilities": {"voice": True, "SMS": True, "MMS": True, "fax": False},
            }
            for number in numbers
        ]
        path = urlparse(uri).path
        first_page = f"{path}?AreaCode={area_code}&PageSize={page_size}&Page=0"
        return v2010_page("available_phone_numbers", records, first_page, page_size)

    def _buy_number(self, uri: str, data: dict[str, Any]) -> Response:
        number = str(data.get("PhoneNumber", ""))
        area_code = str(data.get("AreaCode", ""))
        path = urlparse(uri).path
        account_sid = path.split("/")[3] if path.count("/") >= 4 else ""
        with self._lock:
            if not number and area_code:
                offered = self._offered_locked(area_code, 1)
                number = offered[0] if offered else ""
            if not number:
                return twilio_error(400, NUMBER_NOT_AVAILABLE, "PhoneNumber or AreaCode is required, and none is available")
            match = _SANDBOX_NUMBER.match(number)
            if match is None or number not in self._offered_locked(match.group(1), None):
                return twilio_error(400, NUMBER_NOT_AVAILABLE, f"+{number.lstrip('+')} is not available")
            area = match.group(1)
            sid = f"PN{uuid.uuid4().hex}"
            given = {key: str(data[param]) for param, key in self.updatable_number_fields.items() if data.get(param)}
            resource = number_resource(sid, number, account_sid, f"{path[: -len('.json')]}/{sid}.json", **given)
            self.numbers[sid] = resource
            self.bought.append(number)
            self._available[area] = max(0, self._available.get(area, 0) - 1)
            return Response(201, json.dumps(resource))

    def _update_number(self, sid: str, data: dict[str, Any]) -> Response:
        with self._lock:
            resource = self.numbers.get(sid)
            if resource is None:
                return twilio_error(404, NOT_FOUND, f"The requested resource IncomingPhoneNumbers/{sid}.json was not found")
            for param, key in self.updatable_number_fields.items():
                if param in data:
                    resource[key] = str(data[param])
            resource["date_updated"] = rfc2822()
            return Response(200, json.dumps(resource))

    def _release_number(self, sid: str) -> Response:
        with self._lock:
            if self.numbers.pop(sid, None) is None:
                return twilio_error(404, NOT_FOUND, f"The requested resource IncomingPhoneNumbers/{sid}.json was not found")
            for members in self.messaging_services.values():
                members.discard(sid)
        return Response(204, "")

    def _add_to_service(self, uri: str, service_sid: str, data: dict[str, Any]) -> Response:
        number_sid = str(data.get("PhoneNumberSid", ""))
        with self._lock:
            resource = self.numbers.get(number_sid)
            if resource is None:
                return twilio_error(400, INVALID_PHONE_NUMBER, f"Phone Number SID {number_sid} is invalid")
            if number_sid in self.messaging_services.get(service_sid, set()):
                return twilio_error(409, ALREADY_IN_MESSAGING_SERVICE, "Phone Number or Short Code is already in the Messaging Service.")
            if any(number_sid in members for other, members in self.messaging_services.items() if other != service_sid):
                return twilio_error(
                    409, IN_OTHER_MESSAGING_SERVICE, "Phone Number or Short Code is associated with another Messaging Service."
                )
            self.messaging_services.setdefault(service_sid, set()).add(number_sid)
            now = rfc2822()
            body = {
                "sid": number_sid,
                "account_sid": resource.get("account_sid", ""),
                "service_sid": service_sid,
                "date_created": now,
                "date_updated": now,
                "phone_number": resource["phone_number"],
                "country_code": "US",
                "capabilities": ["SMS", "MMS", "Voice"],
                "url": uri.split("?")[0] + f"/{number_sid}",
            }
        return Response(201, json.dumps(body))

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
            at=self.clock(),
        )
        with self._lock:
            self.sent.append(sms)
        if self._on_send is not None:
            self._on_send(sms)
        account_sid = urlparse(uri).path.split("/")[3] if uri.count("/") >= 5 else ""
        return Response(201, json.dumps(self._message_resource(account_sid, sms)))

    def _create_call(self, uri: str, data: dict[str, Any]) -> Response:
        to_phone, from_number, url = str(data.get("To", "")), str(data.get("From", "")), str(data.get("Url", ""))
        if not to_phone or not from_number:
            return twilio_error(400, 21201 if not to_phone else 21213, "To and From are required")
        if not url and not data.get("Twiml") and not data.get("ApplicationSid"):
            return twilio_error(400, 21205, "Url, Twiml or ApplicationSid is required")
        events = data.get("StatusCallbackEvent") or []
        call = SandboxCall(
            sid=f"CA{uuid.uuid4().hex}",
            from_number=from_number,
            to_phone=to_phone,
            url=url,
            status_callback=str(data["StatusCallback"]) if data.get("StatusCallback") else None,
            status_callback_events=[str(event) for event in (events if isinstance(events, list) else [events])],
            record=str(data.get("Record", "")).lower() == "true",
            at=time.time(),
        )
        with self._lock:
            self.calls.append(call)
        path = urlparse(uri).path
        account_sid = path.split("/")[3] if path.count("/") >= 4 else ""
        now = rfc2822()
        resource: dict[str, Any] = {
            "sid": call.sid,
            "account_sid": account_sid,
            "parent_call_sid": None,
            "to": call.to_phone,
            "to_formatted": call.to_phone,
            "from": call.from_number,
            "from_formatted": call.from_number,
            "phone_number_sid": None,
            "status": "queued",
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "direction": "outbound-api",
            "answered_by": None,
            "api_version": "2010-04-01",
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "date_created": now,
            "date_updated": now,
            "uri": f"{path[: -len('.json')]}/{call.sid}.json",
            "subresource_uris": {},
        }
        return Response(201, json.dumps(resource))
