"""Twilio behind the ports of ``masking.core.ports``: sending SMS, numbers, calls.

``TwilioGateway`` uses the twilio library's REST client; what carries its HTTP requests is
pluggable: the library's own client in AWS, ``SandboxHttpClient``
(``masking.adapters.twilio_sandbox``) locally and in tests. ``LazyTwilioGateway`` builds
the client on first use and again when the credentials in SSM rotate. Every twilio
library error, connection error and timeout becomes a ``SendError`` (classified transient,
ambiguous or permanent in ``masking.core.ports``).

Every request has explicit timeouts (``TwilioSettings``: connect 3 s, read 10 s): the
library's ``TwilioHttpClient`` has none by default (``timeout=None``, twilio 9.13.0
``twilio/http/http_client.py``), so a hung Twilio would hold the Lambda to its own timeout.
The timeout goes to ``requests``, which takes a ``(connect, read)`` tuple
(https://requests.readthedocs.io/en/latest/user/advanced/#timeouts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from requests.exceptions import ConnectTimeout, RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client as TwilioRestClient

from masking.adapters.secrets import TwilioCredentials
from masking.core.models import OutboundSms, SentSms
from masking.core.ports import ALREADY_IN_MESSAGING_SERVICE, PurchasedNumber, SendError
from masking.core.settings import TwilioSettings


def _twilio_error(exc: TwilioException) -> SendError:
    """Wraps any twilio library error (REST error, or a failed page fetch) into ``SendError``."""
    if isinstance(exc, TwilioRestException):
        return SendError(str(exc.msg), code=exc.code, status=exc.status)
    # Page.process_response raises a bare TwilioException(message, response) on non-200.
    response = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], Response) else None
    if response is None:
        raw_code = getattr(exc, "code", None)  # e.g. TwilioServiceException (RFC 9457 errors)
        raw_status = getattr(exc, "status", None)
        return SendError(
            str(exc), code=raw_code if isinstance(raw_code, int) else None, status=raw_status if isinstance(raw_status, int) else None
        )
    code: int | None = response.status_code
    message = str(exc.args[0])
    try:
        body = json.loads(response.text)
        code = int(body.get("code", response.status_code))
        message = f"{message}: {body.get('message', '')}"
    except (ValueError, TypeError, AttributeError):
        pass
    return SendError(message, code=code, status=response.status_code)


def _transport_error(exc: RequestException) -> SendError:
    """No HTTP answer. A connect timeout never reached Twilio; anything later (a read
    timeout, a reset connection) may have been accepted: ambiguous."""
    ambiguous = not isinstance(exc, ConnectTimeout)
    return SendError(f"no answer from Twilio: {type(exc).__name__}", transport=True, ambiguous=ambiguous)


@contextmanager
def _twilio_errors() -> Iterator[None]:
    try:
        yield
    except TwilioException as exc:
        raise _twilio_error(exc) from exc
    except RequestException as exc:
        raise _transport_error(exc) from exc


# How far back (and how many of the newest messages to the same phone) a lost send is looked for.
# How far before a claim's received_at a part of it may look created in Twilio's Messages
# list. The part was created after received_at (the claim is written before the send), so
# this allows only for the two clocks (Lambda's, Twilio's) disagreeing; date_created has
# whole seconds, so received_at is first truncated to its second. It must stay well under
# the gap between two messages of one sender, or an earlier identical text counts as this
# one's send (README, "Failure modes": the reconciliation's residual case).
RECONCILE_CLOCK_SKEW = timedelta(seconds=1)
RECONCILE_LIMIT = 50


def fallback_url(webhook_url: str) -> str:
    """``.../twilio/sms`` -> ``.../twilio/sms/fallback`` (template.yaml, "nothing lost: storage")."""
    base, _, query = webhook_url.partition("?")
    return base.rstrip("/") + "/fallback" + (f"?{query}" if query else "")


def webhook_options(sms_url: str, voice_url: str) -> dict[str, str]:
    """A number's webhooks, each with its fallback: Twilio requests SmsFallbackUrl /
    VoiceFallbackUrl when it cannot retrieve or execute TwiML from the primary URL
    (https://www.twilio.com/docs/usage/security/availability-reliability). The SMS
    fallback stores the request on a queue for a replay; the voice fallback answers a
    short apology (static TwiML)."""
    return {
        "sms_url": sms_url,
        "sms_method": "POST",
        "sms_fallback_url": fallback_url(sms_url),
        "sms_fallback_method": "POST",
        "voice_url": voice_url,
        "voice_method": "POST",
        "voice_fallback_url": fallback_url(voice_url),
        "voice_fallback_method": "POST",
    }


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
        timeouts: tuple[float, float] = (3.0, 10.0),
    ) -> TwilioGateway:
        """``timeouts``: (connect, read) seconds for every request of the library's own
        HTTP client (ignored when ``http_client`` is given, e.g. the sandbox)."""
        if http_client is None:
            http_client = TwilioHttpClient()
            # set after __init__, which only accepts one number; requests takes (connect, read)
            http_client.timeout = timeouts  # type: ignore[assignment]
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
        with _twilio_errors():
            created = self._client.messages.create(**options)
        return SentSms(sid=str(created.sid), status=str(created.status))

    def find_sent(self, message: OutboundSms, since: datetime, exclude: Collection[str] = ()) -> SentSms | None:
        """Reconciles a send whose answer was lost: the newest message to ``to_phone``
        (and from ``from_number``, unless a Messaging Service picks the sender) created at
        or after ``since`` (less ``RECONCILE_CLOCK_SKEW``) with this body, whose SID is not
        in ``exclude`` (SIDs already counted for other parts). Twilio's Messages list filters on To, From and
        DateSent only, and a queued message has no date_sent yet, so the date and the body
        are compared here (research: /work/research/twilio.md Q13; list endpoint
        ``GET /2010-04-01/Accounts/{AccountSid}/Messages.json``, "Search Previous Messages" in
        https://www.twilio.com/docs/messaging/tutorials/how-to-retrieve-and-modify-message-history)."""
        filters: dict[str, Any] = {"to": message.to_phone, "limit": RECONCILE_LIMIT}
        if not self._messaging_service_sid:
            filters["from_"] = message.from_number
        with _twilio_errors():
            found = self._client.messages.list(**filters)
        earliest = since.replace(microsecond=0) - RECONCILE_CLOCK_SKEW
        for item in found:
            created = item.date_created
            if item.direction != "outbound-api" or (item.body or "") != message.body or str(item.sid) in exclude:
                continue
            if created is not None and created < earliest:
                continue
            return SentSms(sid=str(item.sid), status=str(item.status))
        return None

    # --- phone numbers -------------------------------------------------------------------

    def search_local_numbers(self, area_code: str, limit: int = 5, country: str = "US") -> list[str]:
        """E.164 numbers Twilio offers in ``area_code`` that can do SMS and voice (at most ``limit``)."""
        with _twilio_errors():
            found = self._client.available_phone_numbers(country).local.list(
                area_code=int(area_code), sms_enabled=True, voice_enabled=True, limit=limit
            )
        return [str(item.phone_number) for item in found if item.phone_number]

    def buy_number(
        self,
        number: str,
        sms_url: str,
        voice_url: str,
        status_callback: str | None = None,
        friendly_name: str | None = None,
    ) -> PurchasedNumber:
        """Buys ``number`` with its SMS and voice webhooks (and their fallbacks) pointing at us."""
        options: dict[str, Any] = {"phone_number": number, **webhook_options(sms_url, voice_url)}
        if friendly_name:
            options["friendly_name"] = friendly_name
        if status_callback:
            options["status_callback"] = status_callback
            options["status_callback_method"] = "POST"
        with _twilio_errors():
            created = self._client.incoming_phone_numbers.create(**options)
        return PurchasedNumber(number=str(created.phone_number), sid=str(created.sid))

    def configure_number(self, number_sid: str, sms_url: str, voice_url: str) -> None:
        """Points an owned number's SMS and voice webhooks (and their fallbacks) at the given URLs."""
        with _twilio_errors():
            self._client.incoming_phone_numbers(number_sid).update(**webhook_options(sms_url, voice_url))

    def add_to_messaging_service(self, service_sid: str, number_sid: str) -> None:
        """Adds a number to a Messaging Service (A2P 10DLC); already being a member is success."""
        try:
            with _twilio_errors():
                self._client.messaging.v1.services(service_sid).phone_numbers.create(phone_number_sid=number_sid)
        except SendError as error:
            if error.code != ALREADY_IN_MESSAGING_SERVICE:
                raise

    def release_number(self, number_sid: str) -> None:
        """Releases an owned number back to Twilio (undoes a purchase)."""
        with _twilio_errors():
            self._client.incoming_phone_numbers(number_sid).delete()

    # --- calls ------------------------------------------------------------------------------

    def create_call(
        self,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        status_callback_events: list[str] | tuple[str, ...] = ("initiated", "ringing", "answered", "completed"),
        record: bool = False,
    ) -> str:
        """Starts an outbound call (click-to-call rings the provider); returns its CallSid.

        Twilio fetches TwiML from ``url`` (POST) when the call is answered and posts the
        ``status_callback_events`` to ``status_callback``.
        """
        options: dict[str, Any] = {
            "to": to,
            "from_": from_,
            "url": url,
            "method": "POST",
            "status_callback": status_callback,
            "status_callback_method": "POST",
            "status_callback_event": list(status_callback_events),
        }
        if record:
            options["record"] = True
        with _twilio_errors():
            created = self._client.calls.create(**options)
        return str(created.sid)


class LazyTwilioGateway:
    """Creates the Twilio client on first send, and again when the credentials rotate."""

    def __init__(self, credentials: Callable[[], TwilioCredentials], settings: TwilioSettings, sandbox: Callable[[], HttpClient]) -> None:
        self._credentials = credentials
        self._settings = settings
        self._sandbox = sandbox
        self._gateway: TwilioGateway | None = None
        self._built_for: TwilioCredentials | None = None

    def gateway(self) -> TwilioGateway:
        credentials = self._credentials()
        if self._gateway is None or credentials != self._built_for:
            http_client = self._sandbox() if self._settings.transport == "sandbox" else None
            self._gateway = TwilioGateway.create(
                credentials.account_sid,
                credentials.auth_token,
                self._settings.messaging_service_sid,
                http_client,
                timeouts=(self._settings.connect_timeout_seconds, self._settings.read_timeout_seconds),
            )
            self._built_for = credentials
        return self._gateway

    def send_sms(self, message: OutboundSms, status_callback: str | None = None) -> SentSms:
        return self.gateway().send_sms(message, status_callback)

    def find_sent(self, message: OutboundSms, since: datetime, exclude: Collection[str] = ()) -> SentSms | None:
        return self.gateway().find_sent(message, since, exclude)

    def __getattr__(self, name: str) -> Any:
        """The number operations (search, buy, configure...) of the current gateway."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.gateway(), name)
