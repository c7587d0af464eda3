"""Twilio account administration for ``tools.setup`` and ``tools.doctor``: the account,
its incoming numbers and their webhooks, Messaging Service membership and settings, and
a Twilio Proxy Service's numbers and open sessions (for the move off Proxy).

Plain functions over a twilio ``Client``, so the same code runs against Twilio and
against the recording sandbox (``masking.adapters.twilio_admin_sandbox.AdminSandboxHttpClient``).
Every twilio library error becomes ``masking.twilio_gateway.SendError``.

Twilio facts these functions rely on (looked up, not guessed):

- A Messaging Service's ``use_inbound_webhook_on_number`` ("Defer to sender's webhook" in
  the console): when true, the webhook URL configured on the phone number overrides the
  service's ``inbound_request_url``/``fallback_url``; when false, every inbound SMS to a
  number in the service goes to the service's URL instead of ours
  (https://www.twilio.com/docs/messaging/services/api, field ``use_inbound_webhook_on_number``).
- Opt-out in a Messaging Service: a STOP sent to one number of the service opts the sender
  out of every message sent from that service (error 21610 afterwards;
  https://support.twilio.com/hc/en-us/articles/223133627-Error-21610-The-message-From-To-pair-violates-when-sending-SMS and
  https://www.twilio.com/docs/proxy/opt-out-keywords, "Unlike with a Messaging Service,
  opt-out keyword replies will not apply to the entire pool of phone numbers in a Proxy
  Service pool"); Advanced Opt-Out customizes the keywords and replies per service
  (https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out).
- A Proxy Service's numbers: ``DELETE /v1/Services/{KS}/PhoneNumbers/{PN}`` removes a number
  from the service's pool (the number stays in the account).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from masking.adapters.twilio_gateway import _twilio_error
from masking.core.ports import ALREADY_IN_MESSAGING_SERVICE, NOT_FOUND, SendError

OPEN_PROXY_SESSION_STATUSES = frozenset({"open", "in-progress"})


@dataclass(frozen=True, slots=True)
class AccountInfo:
    sid: str
    friendly_name: str
    status: str


@dataclass(frozen=True, slots=True)
class NumberWebhooks:
    """Where a number's inbound SMS and calls go."""

    sms_url: str = ""
    voice_url: str = ""
    sms_fallback_url: str = ""
    voice_fallback_url: str = ""

    def differences(self, wanted: NumberWebhooks) -> list[str]:
        """The webhook names whose value differs from ``wanted`` (an empty wanted fallback is not checked)."""
        out = []
        for name in ("sms_url", "voice_url", "sms_fallback_url", "voice_fallback_url"):
            want = getattr(wanted, name)
            if name.endswith("fallback_url") and not want:
                continue
            if getattr(self, name) != want:
                out.append(name)
        return out


@dataclass(frozen=True, slots=True)
class IncomingNumber:
    sid: str
    number: str  # E.164
    webhooks: NumberWebhooks
    friendly_name: str = ""


@dataclass(frozen=True, slots=True)
class MessagingServiceInfo:
    sid: str
    friendly_name: str
    use_inbound_webhook_on_number: bool
    inbound_request_url: str


@dataclass(frozen=True, slots=True)
class ProxyNumber:
    sid: str  # PN..., the IncomingPhoneNumber sid
    number: str


@dataclass(frozen=True, slots=True)
class ProxyParticipant:
    identifier: str  # the participant's real phone
    proxy_identifier: str  # the Twilio number this participant sees and texts
    friendly_name: str = ""


@dataclass(frozen=True, slots=True)
class ProxySession:
    sid: str
    status: str
    unique_name: str
    participants: tuple[ProxyParticipant, ...]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def fetch_account(client: Client) -> AccountInfo:
    """The one harmless call that proves the account SID and auth token work."""
    try:
        account = client.api.v2010.accounts(client.username).fetch()
    except TwilioException as exc:
        raise _twilio_error(exc) from exc
    return AccountInfo(sid=_text(account.sid), friendly_name=_text(account.friendly_name), status=_text(account.status))


def list_incoming_numbers(client: Client) -> list[IncomingNumber]:
    try:
        found = client.incoming_phone_numbers.list(page_size=1000)
    except TwilioException as exc:
        raise _twilio_error(exc) from exc
    return [
        IncomingNumber(
            sid=_text(item.sid),
            number=_text(item.phone_number),
            friendly_name=_text(item.friendly_name),
            webhooks=NumberWebhooks(
                sms_url=_text(item.sms_url),
                voice_url=_text(item.voice_url),
                sms_fallback_url=_text(item.sms_fallback_url),
                voice_fallback_url=_text(item.voice_fallback_url),
            ),
        )
        for item in found
        if item.phone_number
    ]


def point_number(client: Client, number_sid: str, wanted: NumberWebhooks) -> None:
    """Sets the number's SMS and voice webhooks (and fallbacks, when given), all HTTP POST."""
    options: dict[str, Any] = {"sms_url": wanted.sms_url, "sms_method": "POST", "voice_url": wanted.voice_url, "voice_method": "POST"}
    if wanted.sms_fallback_url:
        options.update(sms_fallback_url=wanted.sms_fallback_url, sms_fallback_method="POST")
    if wanted.voice_fallback_url:
        options.update(voice_fallback_url=wanted.voice_fallback_url, voice_fallback_method="POST")
    try:
        client.incoming_phone_numbers(number_sid).update(**options)
    except TwilioException as exc:
        raise _twilio_error(exc) from exc


def fetch_messaging_service(client: Client, service_sid: str) -> MessagingServiceInfo:
    try:
        service = client.messaging.v1.services(service_sid).fetch()
    except TwilioException as exc:
        raise _twilio_error(exc) from exc
    return MessagingServiceInfo(
        sid=_text(service.sid),
        friendly_name=_text(service.friendly_name),
        use_inbound_webhook_on_number=bool(service.use_inbound_webhook_on_number),
        inbound_request_url=_text(service.inbound_request_url),
    )


def defer_to_number_webhooks(client: Client, service_sid: str) -> None:
    """Sets the service's inbound setting to "Defer to sender's webhook" (``use_inbound_webhook_on_number``)."""
    try:
        client.messaging.v1.services(service_sid).update(use_inbound_webhook_on_number=True)
    except TwilioException as exc:
        raise _twilio_error(exc) from exc


def messaging_service_number_sids(client: Client, service_sid: str) -> set[str]:
    try:
        found = client.messaging.v1.services(service_sid).phone_numbers.list(page_size=1000)
    except TwilioException as exc:
        raise _twilio_error(exc) from exc
    return {_text(item.sid) for item in found}


def add_to_messaging_service(client: Client, service_sid: str, number_sid: str) -> bool:
    """Adds the number to the service; False when it was a member already."""
    try:
        client.messaging.v1.services(service_sid).phone_numbers.create(phone_number_sid=number_sid)
    except TwilioException as exc:
        error = _twilio_error(exc)
        if error.code == ALREADY_IN_MESSAGING_SERVICE:
            return False
        raise error from exc
    return True


def proxy_numbers(client: Client, service_sid: str) -> list[ProxyNumber]:
    try:
        found = client.proxy.v1.services(service_sid).phone_numbers.list(page_size=1000)
    except TwilioException as exc:
        raise _twilio_error(exc) from exc
    return [ProxyNumber(sid=_text(item.sid), number=_text(item.phone_number)) for item in found]


def remove_from_proxy(client: Client, service_sid: str, number_sid: str) -> bool:
    """Removes the number from the Proxy Service's pool; False if it was not in it."""
    try:
        client.proxy.v1.services(service_sid).phone_numbers(number_sid).delete()
    except TwilioException as exc:
        error = _twilio_error(exc)
        if error.code == NOT_FOUND or error.status == 404:
            return False
        raise error from exc
    return True


def open_proxy_sessions(client: Client, service_sid: str) -> list[ProxySession]:
    """The Proxy Service's open sessions with their participants."""
    try:
        service = client.proxy.v1.services(service_sid)
        sessions = []
        for session in service.sessions.list(page_size=1000):
            status = _text(session.status)
            if status not in OPEN_PROXY_SESSION_STATUSES:
                continue
            participants = tuple(
                ProxyParticipant(
                    identifier=_text(p.identifier), proxy_identifier=_text(p.proxy_identifier), friendly_name=_text(p.friendly_name)
                )
                for p in service.sessions(_text(session.sid)).participants.list(page_size=100)
            )
            sessions.append(
                ProxySession(sid=_text(session.sid), status=status, unique_name=_text(session.unique_name), participants=participants)
            )
    except TwilioException as exc:
        raise _twilio_error(exc) from exc
    return sessions


__all__ = [
    "AccountInfo",
    "IncomingNumber",
    "MessagingServiceInfo",
    "NumberWebhooks",
    "ProxyNumber",
    "ProxyParticipant",
    "ProxySession",
    "SendError",
    "add_to_messaging_service",
    "defer_to_number_webhooks",
    "fetch_account",
    "fetch_messaging_service",
    "list_incoming_numbers",
    "messaging_service_number_sids",
    "open_proxy_sessions",
    "point_number",
    "proxy_numbers",
    "remove_from_proxy",
]
