"""The voice test world, shared by tests/unit/test_voice.py (in memory) and
tests/integration/test_voice_dynamo.py (moto): inbound calls, click-to-call and the one
TwiML check every answer goes through."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from local.apigw import api_gateway_event
from masking.adapters.memory import MemoryOutbox
from masking.adapters.secrets import TwilioCredentials
from masking.adapters.twilio_gateway import TwilioGateway
from masking.adapters.twilio_recordings import SandboxRecordings, TwilioRecordingFetcher
from masking.adapters.twilio_sandbox import SandboxHttpClient
from masking.admin.context import AdminContext
from masking.core.call_records import CallSession
from masking.core.phones import is_e164
from masking.core.ports import CallStore
from masking.core.settings import InventorySettings, RoutingSettings, TwilioSettings, VoiceSettings
from masking.handlers.voice import handle_bridge_webhook, handle_call_status_webhook, handle_voice_webhook
from masking.handlers.voicemail import handle_recording_link, handle_voicemail_webhook, handle_whisper_webhook
from masking.mirror.outbox import MirrorRecord
from masking.voice.click_to_call import start_call
from masking.voice.routing import VoiceRouter
from masking.voice.services import VoiceServices
from masking.voice.twiml import RECORDING_LINK_PATH, VOICEMAIL_PATH, WHISPER_PATH
from tests.support import ACCOUNT_SID, API_HOST, AUTH_TOKEN, BASE, OLIVIA, PROVIDER, STAGE, Clock, seed, signed_event

VOICE_URL = f"https://{API_HOST}/twilio/voice"


# ---------------------------------------------------------------- the one TwiML check


def twiml_of(response: dict[str, Any], hidden: tuple[str, ...] = ()) -> ET.Element:
    """The answer is 200 text/xml, parses as XML, every <Dial> has a masked callerId, and
    none of the ``hidden`` real phones (the other party's) appears anywhere in it: not in a
    <Say>, not in a URL Twilio is given, not as a callerId."""
    assert response["statusCode"] == 200, response
    assert response["headers"]["Content-Type"] == "text/xml"
    root = ET.fromstring(response["body"])
    assert root.tag == "Response"
    for dial in root.iter("Dial"):
        caller_id = dial.get("callerId")
        assert caller_id, f"<Dial> without callerId: {response['body']}"
        assert is_e164(caller_id)
    body = response["body"]
    for phone in hidden:
        for form in (phone, phone.lstrip("+"), phone[-10:], quote(phone)):
            assert form not in body, f"the other party's real number {phone} is in the TwiML: {body}"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def said(root: ET.Element) -> str:
    return " ".join(say.text or "" for say in root.iter("Say"))


def dialed(root: ET.Element) -> tuple[str, str]:
    """(callerId, number dialed) of the one <Dial>."""
    [dial] = root.iter("Dial")
    [number] = dial.iter("Number")
    return str(dial.get("callerId")), str(number.text)


def event_url(public: str) -> str:
    """A URL we gave Twilio (with the stage) -> the URL the test event is built for."""
    return public.replace(f"https://{API_HOST}/{STAGE}/", f"https://{API_HOST}/", 1)


# ---------------------------------------------------------------- the world


@dataclass
class VoiceWorld:
    store: CallStore
    sandbox: SandboxHttpClient
    outbox: MemoryOutbox
    clock: Clock
    services: VoiceServices
    admin: AdminContext
    settings: VoiceSettings
    recordings: SandboxRecordings
    sids: list[int] = field(default_factory=lambda: [0])

    def next_sid(self) -> str:
        self.sids[0] += 1
        return f"CA{self.sids[0]:032x}"

    # ---- inbound calls
    def call(self, from_phone: str, to_number: str, sid: str | None = None, signature: str | None = None) -> dict[str, Any]:
        params = {
            "CallSid": sid or self.next_sid(),
            "AccountSid": ACCOUNT_SID,
            "From": from_phone,
            "To": to_number,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        return handle_voice_webhook(signed_event(VOICE_URL, params, signature), self.services)

    def post(self, public: str, params: dict[str, str], signature: str | None = None) -> dict[str, Any]:
        """POSTs to a URL we gave Twilio (a Dial action, a bridge URL, a status callback)."""
        url = event_url(public)
        event = signed_event(url, {"AccountSid": ACCOUNT_SID, **params}, signature)
        path = urlsplit(url).path
        if path.endswith("/bridge") or "/bridge/" in path:
            return handle_bridge_webhook(event, self.services)
        for prefix, handler in ((WHISPER_PATH, handle_whisper_webhook), (VOICEMAIL_PATH, handle_voicemail_webhook)):
            if path.startswith(prefix + "/"):
                event["pathParameters"] = {"call": path[len(prefix) + 1 :].split("/")[0]}
                event["resource"] = prefix + "/{call}" + ("/answer" if path.endswith("/answer") else "")
                return handler(event, self.services)
        return handle_call_status_webhook(event, self.services)

    def whisper(self, root: ET.Element, call_sid: str = "") -> ET.Element:
        """Twilio runs the <Number url> of the <Dial> on the answered leg."""
        [number] = root.iter("Number")
        assert number.get("url"), "no whisper on the <Number>"
        return twiml_of(self.post(str(number.get("url")), {"CallSid": call_sid or self.next_sid(), "CallStatus": "in-progress"}))

    def press(self, whisper: ET.Element, digits: str, call_sid: str = "") -> ET.Element:
        [gather] = whisper.iter("Gather")
        return twiml_of(self.post(str(gather.get("action")), {"CallSid": call_sid or self.next_sid(), "Digits": digits}))

    def leave_voicemail(self, voicemail: ET.Element, seconds: int, call_sid: str, recording_sid: str = "RE" + "1" * 32) -> ET.Element:
        [record] = voicemail.iter("Record")
        params = {
            "CallSid": call_sid,
            "RecordingSid": recording_sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}",
            "RecordingDuration": str(seconds),
            "Digits": "hangup",
        }
        return twiml_of(self.post(str(record.get("action")), params))

    def open_link(self, url: str) -> dict[str, Any]:
        """GET the voicemail link of the provider's SMS (no Twilio signature: its own)."""
        parts = urlsplit(event_url(url))
        call = parts.path.rsplit("/", 1)[1]
        event = api_gateway_event(
            "GET",
            f"https://{API_HOST}{parts.path}" + (f"?{parts.query}" if parts.query else ""),
            stage=STAGE,
            resource=RECORDING_LINK_PATH + "/{call}",
            path_parameters={"call": call},
        )
        return handle_recording_link(event, self.services)

    def dial_action(self, root: ET.Element, status: str, duration: int | None = None, call_sid: str = "") -> dict[str, Any]:
        [dial] = root.iter("Dial")
        params = {"CallSid": call_sid or self.next_sid(), "DialCallStatus": status, "DialCallSid": self.next_sid()}
        if duration is not None:
            params["DialCallDuration"] = str(duration)
        return self.post(str(dial.get("action")), params)

    # ---- click-to-call
    def start(
        self, client_ref: str = OLIVIA.client_id, reference: str | None = "booking-42", provider_id: str = PROVIDER.provider_id
    ) -> CallSession:
        try:
            return start_call(self.admin, provider_id, client_ref, reference, BASE, settings=self.settings)
        finally:
            self.outbox.publish(self.admin.take_records())

    def status(self, session: CallSession, call_status: str, duration: int | None = None) -> dict[str, Any]:
        [placed] = [c for c in self.sandbox.calls if c.sid == session.call_sid]
        assert placed.status_callback
        params = {"CallSid": placed.sid, "CallStatus": call_status}
        if duration is not None:
            params["CallDuration"] = str(duration)
        response = self.post(placed.status_callback, params)
        twiml_of(response)
        return response

    def bridge(self, session: CallSession) -> ET.Element:
        [placed] = [c for c in self.sandbox.calls if c.sid == session.call_sid]
        return twiml_of(self.post(placed.url, {"CallSid": placed.sid, "CallStatus": "in-progress"}))

    def session(self, call_id: str) -> CallSession:
        found = self.store.get_call_session(call_id)
        assert found is not None
        return found

    # ---- the outbox
    def calls_mirrored(self) -> list[MirrorRecord]:
        return [r for r in self.outbox.records if r.kind == "call"]

    def events(self) -> list[str]:
        return [str(r.fields["Event"]) for r in self.outbox.records if r.kind == "audit"]


def make_voice_world(store: CallStore, settings: VoiceSettings | None = None, pool: list[str] | None = None) -> VoiceWorld:
    seed(store, pool)
    sandbox = SandboxHttpClient()
    gateway = TwilioGateway.create(ACCOUNT_SID, AUTH_TOKEN, http_client=sandbox)
    clock = Clock()
    outbox = MemoryOutbox()
    settings = settings or VoiceSettings()
    credentials = TwilioCredentials(ACCOUNT_SID, AUTH_TOKEN)
    router = VoiceRouter(store, RoutingSettings(), settings, clock=clock)
    recordings = SandboxRecordings(lambda: credentials)
    fetcher = TwilioRecordingFetcher(lambda: credentials, recordings.get)
    services = VoiceServices(
        router=router,
        outbox=outbox,
        twilio=TwilioSettings(transport="sandbox"),
        credentials=lambda: credentials,
        sms=lambda: gateway,
        recordings=lambda: fetcher,
    )
    admin = AdminContext(
        store=store,  # type: ignore[arg-type]  # click-to-call needs only the call store's part
        gateway=gateway,
        routing=RoutingSettings(),
        inventory=InventorySettings(),
        twilio=TwilioSettings(transport="sandbox"),
        clock=clock,
    )
    return VoiceWorld(
        store=store, sandbox=sandbox, outbox=outbox, clock=clock, services=services, admin=admin, settings=settings, recordings=recordings
    )
