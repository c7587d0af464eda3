"""The deployed shape: intercept's lambda_handler with SSM secrets, DynamoDB and SQS (moto),
fed the events/ files that `sam local invoke -e` uses."""

from __future__ import annotations

import json
import os

import boto3
import pytest

from local.apigw import twilio_signature
from local.backends import DEMO_AUTH_TOKEN, EmbeddedAws
from masking.mirror.outbox import MirrorRecord
from masking.store.dynamo import DynamoRoutingStore
from masking.wiring import sandbox_http_client
from tests.integration.conftest import seeded_demo_aws
from tests.support import OLIVIA, POOL, PROVIDER, FakeLambdaContext, load_event, load_handler, signed_event

handler = load_handler("intercept").lambda_handler


@pytest.fixture
def aws():  # the events/ files are signed with the demo token
    with seeded_demo_aws() as embedded:
        yield embedded


def invoke(name_or_event: str | dict) -> dict:
    event = load_event(name_or_event) if isinstance(name_or_event, str) else name_or_event
    return handler(event, FakeLambdaContext())


def records(aws: EmbeddedAws) -> list[MirrorRecord]:
    return [MirrorRecord.from_json(body) for body in aws.drain_outbox()]


def test_inbound_event_is_forwarded_and_mirrored_on_sqs(aws: EmbeddedAws) -> None:
    response = invoke("sms_inbound_from_client")

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "text/xml"
    [sms] = sandbox_http_client().sent
    assert (sms.from_number, sms.to_phone) == (POOL[0], PROVIDER.phone)
    assert sms.body == "From Olivia Owner: Hi Sam, is Rex eating OK?"
    assert sms.status_callback == "https://abc123.execute-api.us-east-1.amazonaws.com/dev/twilio/sms/status/SM" + "a" * 32 + ".0"  # part 0
    kinds = sorted(r.kind for r in records(aws))
    assert kinds == ["audit", "client", "message"]


def test_reply_event_reaches_the_client_from_the_reserved_number(aws: EmbeddedAws) -> None:
    invoke("sms_inbound_from_client")

    invoke("sms_reply_from_provider")

    reply = sandbox_http_client().sent[-1]
    assert (reply.from_number, reply.to_phone) == (PROVIDER.reserved_number, OLIVIA.phone)


def test_stop_event_is_not_forwarded(aws: EmbeddedAws) -> None:
    invoke("sms_inbound_from_client")
    records(aws)

    assert invoke("sms_stop_from_client")["statusCode"] == 200

    assert len(sandbox_http_client().sent) == 1
    assert [r.fields["Event"] for r in records(aws)] == ["Client opted out"]


def test_bad_signature_event_is_403_and_nothing_happens(aws: EmbeddedAws) -> None:
    response = invoke("sms_bad_signature")

    assert response["statusCode"] == 403
    assert json.loads(response["body"]) == {"success": False, "error": "invalid Twilio signature", "details": None}
    assert sandbox_http_client().sent == []
    assert records(aws) == []


def test_status_callbacks_are_recorded_once_and_never_move_backwards(aws: EmbeddedAws) -> None:
    invoke("sms_inbound_from_client")
    records(aws)

    invoke("sms_status_delivered")
    invoke("sms_status_delivered")  # repeated
    sent_after = load_event("sms_status_delivered")
    invoke(_resign_with_status(sent_after, "sent"))  # out of order

    stored = DynamoRoutingStore(aws.env["TABLE_NAME"]).get_message("SM" + "a" * 32)
    assert stored is not None
    assert stored.delivery["SM" + "e" * 32]["status"] == "delivered"
    [update] = records(aws)
    assert update.kind == "message" and update.fields["Twilio Status"] == "delivered" and update.fields["Status"] == "delivered"


def _resign_with_status(event: dict, status: str) -> dict:
    from urllib.parse import parse_qsl, urlencode

    params = dict(parse_qsl(event["body"]))
    params["MessageStatus"] = params["SmsStatus"] = status
    url = "https://abc123.execute-api.us-east-1.amazonaws.com/dev/twilio/sms/status?ref=" + event["queryStringParameters"]["ref"]
    event = dict(event, body=urlencode(params))
    event["headers"] = dict(event["headers"], **{"X-Twilio-Signature": twilio_signature(DEMO_AUTH_TOKEN, url, params)})
    return event


def test_undelivered_status_is_mirrored_with_its_error_code(aws: EmbeddedAws) -> None:
    invoke("sms_inbound_from_client")
    records(aws)

    invoke("sms_status_undelivered")

    [update] = records(aws)
    assert update.fields == {"Twilio Status": "undelivered", "Twilio Error Code": "30003", "Status": "undelivered"}


def test_public_base_url_overrides_the_api_gateway_host(aws: EmbeddedAws) -> None:
    from masking.core.settings import clear_settings_cache
    from masking.wiring import get_sms_services

    os.environ["PUBLIC_BASE_URL"] = "https://sms.example.com"
    clear_settings_cache()
    get_sms_services.cache_clear()
    params = {"MessageSid": "SM" + "f" * 32, "From": OLIVIA.phone, "To": PROVIDER.reserved_number or "", "Body": "via custom domain"}
    event = signed_event(
        "https://abc123.execute-api.us-east-1.amazonaws.com/twilio/sms",
        params,
        signature=twilio_signature(DEMO_AUTH_TOKEN, "https://sms.example.com/twilio/sms", params),
    )

    assert invoke(event)["statusCode"] == 200
    assert sandbox_http_client().sent[-1].status_callback == f"https://sms.example.com/twilio/sms/status/{params['MessageSid']}.0"

    wrong = signed_event(
        "https://abc123.execute-api.us-east-1.amazonaws.com/twilio/sms",
        dict(params, MessageSid="SM" + "9" * 32),
        signature=twilio_signature(DEMO_AUTH_TOKEN, "https://abc123.execute-api.us-east-1.amazonaws.com/dev/twilio/sms", params),
    )
    assert invoke(wrong)["statusCode"] == 403


def test_logs_hold_no_phone_number_in_clear_and_no_body(aws: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> None:
    invoke("sms_inbound_from_client")
    invoke("sms_reply_from_provider")
    invoke("sms_bad_signature")

    logs = capsys.readouterr().out
    assert logs, "the handler logs something"
    for number in (OLIVIA.phone, PROVIDER.phone, PROVIDER.reserved_number, POOL[0]):
        assert number not in logs
    assert "Rex" not in logs


def test_secrets_come_from_ssm(aws: EmbeddedAws) -> None:
    ssm = boto3.client("ssm")
    parameter = ssm.get_parameter(Name="/masking/local/twilio/auth_token")["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert "TWILIO_AUTH_TOKEN" not in os.environ
