"""Issue 13, entry: every number gets fallback URLs, the template's storage-first fallback
routes match what the consumer reads, an exception in the SMS webhook is a 500 (Twilio then
calls the fallback URL) and never a 200 that drops the message."""

from __future__ import annotations

from typing import Any

import pytest

from local.template import integration_routes, load_template, resource
from masking.adapters.twilio_gateway import TwilioGateway, fallback_url
from masking.adapters.twilio_sandbox import SandboxHttpClient
from masking.core.errors import ClaimInProgress, DuplicateMessage
from masking.core.models import MessageRecord
from masking.handlers.fallback import _attribute
from masking.handlers.sms import SMS_FALLBACK_PATH, handle_sms_webhook
from masking.store.memory import MemoryRoutingStore
from masking.voice.twiml import VOICE_PATH
from tests.support import OLIVIA, PROVIDER, World

SMS_URL = "https://api.example.com/dev/twilio/sms"
VOICE_URL = "https://api.example.com/dev/twilio/voice"


def test_bought_numbers_get_sms_and_voice_fallback_urls() -> None:
    sandbox = SandboxHttpClient(available={"303": 1})
    gateway = TwilioGateway.create("AC" + "0" * 32, "token", http_client=sandbox)
    bought = gateway.buy_number("+13035555000", SMS_URL, VOICE_URL)
    number = sandbox.numbers[bought.sid]
    assert (number["sms_fallback_url"], number["voice_fallback_url"]) == (SMS_URL + "/fallback", VOICE_URL + "/fallback")
    wire = sandbox.requests[-1].data
    assert (wire["SmsFallbackUrl"], wire["SmsFallbackMethod"]) == (SMS_URL + "/fallback", "POST")
    assert (wire["VoiceFallbackUrl"], wire["VoiceFallbackMethod"]) == (VOICE_URL + "/fallback", "POST")


def test_attached_and_adopted_numbers_get_them_too() -> None:
    sandbox = SandboxHttpClient(available={"303": 1})
    gateway = TwilioGateway.create("AC" + "0" * 32, "token", http_client=sandbox)
    bought = gateway.buy_number("+13035555000", "https://old/sms", "https://old/voice")
    gateway.configure_number(bought.sid, SMS_URL, VOICE_URL)
    number = sandbox.numbers[bought.sid]
    assert (number["sms_fallback_url"], number["voice_fallback_url"]) == (SMS_URL + "/fallback", VOICE_URL + "/fallback")


def test_the_fallback_urls_are_the_routes_the_template_serves() -> None:
    routes = {route.path: route for route in integration_routes()}
    assert fallback_url("https://h/dev" + "/twilio/sms").endswith(SMS_FALLBACK_PATH)
    assert set(routes) == {SMS_FALLBACK_PATH, VOICE_PATH + "/fallback"}
    sms = routes[SMS_FALLBACK_PATH]
    assert (sms.method, sms.kind, sms.queue) == ("POST", "sqs", "FallbackQueue")
    assert sms.integration["passthroughBehavior"] == "never"  # only Twilio's form bodies
    template = sms.integration["requestTemplates"]["application/x-www-form-urlencoded"]
    assert "MessageBody=$util.urlEncode($input.body)" in template  # the raw, signed body
    for name in ("TwilioSignature", "Host", "Path", "ResourcePath"):  # what handlers.fallback reads
        assert f".Name={name}&" in template
    assert sms.static_answer() == (200, "text/xml", '<?xml version="1.0" encoding="UTF-8"?><Response/>')
    voice = routes[VOICE_PATH + "/fallback"]
    status, content_type, twiml = voice.static_answer()
    assert (voice.kind, status, content_type) == ("mock", 200, "text/xml")
    assert "<Say>" in twiml and "<Dial" not in twiml


def test_the_fallback_storage_resources_are_least_privilege_and_consistent() -> None:
    template = load_template()
    resources = template["Resources"]
    assert resources["MaskingApi"]["Properties"]["MergeDefinitions"] is True  # the functions' routes stay
    queue = resources["FallbackQueue"]["Properties"]
    consumer = resources["FallbackReplayFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * consumer["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["FallbackDeadLetterQueue", "Arn"]}
    assert resources["FallbackDlqAlarm"]["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["FallbackDeadLetterQueue", "QueueName"]}
    [statement] = resources["FallbackApiRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement == {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["FallbackQueue", "Arn"]}}
    assert consumer["Events"]["Fallback"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    republisher = resource("OutboxRepublisherFunction")["Properties"]
    assert republisher["Events"]["Schedule"]["Type"] == "ScheduleV2"
    outputs = template["Outputs"]
    assert outputs["TwilioSmsFallbackUrl"]["Value"]["Fn::Sub"].endswith("/twilio/sms/fallback")
    assert outputs["TwilioVoiceFallbackUrl"]["Value"]["Fn::Sub"].endswith("/twilio/voice/fallback")


def test_message_attributes_are_read_as_lambda_delivers_them() -> None:
    record: dict[str, Any] = {"messageAttributes": {"TwilioSignature": {"stringValue": "abc", "dataType": "String"}}}
    assert _attribute(record, "TwilioSignature") == "abc"
    assert _attribute(record, "Host") == ""


def test_an_exception_in_the_sms_webhook_is_a_500_without_detail(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"bug while routing {OLIVIA.phone}")

    monkeypatch.setattr(world.router, "route", broken)
    answer = handle_sms_webhook(world.sms_event(OLIVIA.phone, str(PROVIDER.reserved_number), "Hi"), world.services)
    # measured: any exception was a 5xx *and the message was gone*; now Twilio's fallback keeps it
    assert answer["statusCode"] == 500
    assert OLIVIA.phone not in answer["body"] and "bug" not in answer["body"]


def test_the_memory_store_settles_claims_like_dynamodb() -> None:
    store = MemoryRoutingStore()
    first = MessageRecord(message_sid="SM" + "1" * 32, received_at="2026-11-01T12:00:00+00:00", claim_token="a")
    store.claim_message(first)
    store.claim_message(first)  # its own claim, written again (a retried write)
    later = MessageRecord(message_sid=first.message_sid, received_at="2026-11-01T12:00:05+00:00", claim_token="b")
    with pytest.raises(ClaimInProgress):
        store.claim_message(later)
    stale = MessageRecord(message_sid=first.message_sid, received_at="2026-11-01T12:00:31+00:00", claim_token="c")
    store.claim_message(stale)  # the first invocation died: taken over
    store.set_message_outcome(first.message_sid, "forwarded", [])
    with pytest.raises(DuplicateMessage):
        store.claim_message(MessageRecord(message_sid=first.message_sid, received_at="2026-11-01T13:00:00+00:00", claim_token="d"))
