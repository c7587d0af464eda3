"""Both custom-domain shapes end to end (issue 12), through the deployed handlers with
DynamoDB, SQS and SSM (moto): one setting, PUBLIC_BASE_URL, makes inbound signatures, the
URLs handed to Twilio (numbers, callbacks, calls) and admin routing work.

Events are shaped as API Gateway gives them on a custom domain: ``requestContext.domainName``
is the custom host, ``requestContext.path`` carries the base path, and ``path`` carries it
too (AWS's documented quirk: https://github.com/aws/serverless-java-container/issues/34),
while ``resource`` is the template's route.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from local.apigw import template_resource, twilio_signature
from local.backends import DEMO_ADMIN_API_KEY, EmbeddedAws
from masking.store.admin import DynamoAdminStore
from masking.store.dynamo import DynamoRoutingStore
from masking.wiring import sandbox_http_client
from tests.support import AUTH_TOKEN, OLIVIA, PROVIDER, FakeLambdaContext, load_handler, reset_caches, seed

intercept = load_handler("intercept").lambda_handler
admin = load_handler("create_session").lambda_handler
call_connect = load_handler("call_connect").lambda_handler

SHAPES = {
    "base path": ("https://sms.example.com/masking", "/masking"),
    "no base path": ("https://sms.example.com", ""),
}


@pytest.fixture(params=sorted(SHAPES))
def shape(request: pytest.FixtureRequest, aws: EmbeddedAws) -> tuple[str, str]:
    base, base_path = SHAPES[request.param]
    os.environ["PUBLIC_BASE_URL"] = base
    reset_caches()
    seed(DynamoAdminStore(aws.env["TABLE_NAME"]))
    return base, base_path


def custom_domain_event(method: str, url: str, *, body: str | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """What API Gateway hands the function for a request to ``url`` on the custom domain."""
    parts = urlsplit(url)
    base_path = urlsplit(os.environ["PUBLIC_BASE_URL"]).path
    route = parts.path.removeprefix(base_path)
    resource, params = template_resource(route)
    query = dict(pair.split("=", 1) for pair in parts.query.split("&")) if parts.query else None
    return {
        "resource": resource or route,
        "path": parts.path,  # with the base path, as AWS gives it
        "httpMethod": method,
        "headers": {"Host": parts.hostname, **(headers or {})},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": params,
        "requestContext": {
            "domainName": parts.hostname,
            "path": parts.path,
            "stage": "dev",
            "resourcePath": resource or route,
            "httpMethod": method,
            "requestId": str(uuid.uuid4()),
        },
        "body": body,
        "isBase64Encoded": False,
    }


def twilio_post(handler: Any, url: str, params: dict[str, str]) -> dict[str, Any]:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params)}
    return handler(custom_domain_event("POST", url, body=urlencode(params), headers=headers), FakeLambdaContext())  # type: ignore[no-any-return]


def admin_call(base: str, method: str, route: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"X-Api-Key": DEMO_ADMIN_API_KEY, "Content-Type": "application/json"}
    event = custom_domain_event(method, base + route, body=json.dumps(body) if body is not None else None, headers=headers)
    response = admin(event, FakeLambdaContext(function_name="masking-create-session"))
    return response["statusCode"], json.loads(response["body"])


def test_sms_and_its_status_callback_on_the_custom_domain(shape: tuple[str, str], aws: EmbeddedAws) -> None:
    base, _ = shape
    sid = "SM" + "c" * 32
    params = {"MessageSid": sid, "From": OLIVIA.phone, "To": PROVIDER.reserved_number or "", "Body": "via the custom domain"}

    assert twilio_post(intercept, f"{base}/twilio/sms", params)["statusCode"] == 200

    forwarded = sandbox_http_client().sent[-1]
    assert forwarded.status_callback == f"{base}/twilio/sms/status/{sid}.0"  # part 0 of the forward
    callback = {"MessageSid": forwarded.sid, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    assert twilio_post(intercept, forwarded.status_callback, callback)["statusCode"] == 200
    record = DynamoRoutingStore(aws.env["TABLE_NAME"]).get_message(sid)
    assert record is not None and record.delivery[forwarded.sid]["status"] == "delivered"

    # signed for another base path: refused
    event = custom_domain_event("POST", f"{base}/twilio/sms", body=urlencode(params))
    event["headers"]["X-Twilio-Signature"] = twilio_signature(AUTH_TOKEN, "https://sms.example.com/other/twilio/sms", params)
    assert intercept(event, FakeLambdaContext())["statusCode"] == 403


def test_admin_routes_numbers_and_click_to_call_on_the_custom_domain(shape: tuple[str, str], aws: EmbeddedAws) -> None:
    """Measured: with a base path mapping the admin resolver answered 404 on every route,
    and numbers bought got webhooks without the base path."""
    base, _ = shape
    status, opened = admin_call(base, "POST", "/sessions", {"provider": PROVIDER.provider_id, "client": OLIVIA.client_id})
    assert status == 201, opened
    status, read = admin_call(base, "GET", f"/sessions/{opened['session']['id']}")
    assert status == 200 and read["session"]["id"] == opened["session"]["id"]

    status, bought = admin_call(base, "POST", "/numbers/purchase", {"lifecycle": "Pool", "attach": False})
    assert status == 201, bought
    sandbox = sandbox_http_client()
    configured = sandbox.numbers[bought["number"]["twilio_sid"]]
    assert (configured["sms_url"], configured["voice_url"]) == (f"{base}/twilio/sms", f"{base}/twilio/voice")

    status, started = admin_call(base, "POST", "/calls", {"provider": PROVIDER.provider_id, "client_phone": "(303) 555-0201"})
    assert status == 201, started
    [placed] = sandbox.calls
    call_id = started["call"]["id"]
    assert (placed.url, placed.status_callback) == (f"{base}/twilio/voice/bridge/{call_id}", f"{base}/twilio/voice/status/{call_id}")

    # Twilio comes back on those URLs: the bridge dials the client, the dial action is recorded
    answered = twilio_post(call_connect, placed.url, {"CallSid": placed.sid, "CallStatus": "in-progress", "AccountSid": "AC1"})
    assert answered["statusCode"] == 200 and OLIVIA.phone in answered["body"]
    action = f"{base}/twilio/voice/status/{call_id}/dial"
    assert f'action="{action}"' in answered["body"]
    done = twilio_post(call_connect, action, {"CallSid": placed.sid, "DialCallStatus": "completed", "DialCallDuration": "7"})
    assert done["statusCode"] == 200 and "<Hangup" in done["body"]


def test_hmac_sha256_webhooks_are_checked_with_the_shared_key_secret_from_ssm(aws: EmbeddedAws) -> None:
    """Measured: X-Twilio-Webhooks-Signature-Settings was ignored, so such a request got 403."""
    import boto3
    from twilio.request_validator import RequestValidator

    from local.backends import SECRETS_PATH
    from tests.support import API_HOST, signed_event

    seed(DynamoAdminStore(aws.env["TABLE_NAME"]))
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=f"{SECRETS_PATH}/twilio/webhook_signing_secret", Value="shared-key-secret", Type="SecureString"
    )

    class Multi(dict[str, list[str]]):
        def getall(self, name: str) -> list[str]:
            return self[name]

    def post(secret: str, sid: str) -> int:
        params = {"MessageSid": sid, "From": OLIVIA.phone, "To": PROVIDER.reserved_number or "", "Body": "sha256"}
        signed = f"https://{API_HOST}/dev/twilio/sms"
        signature = RequestValidator(secret).compute_signature(signed, Multi({k: [v] for k, v in params.items()}), algorithm="HMAC_SHA256")
        event = signed_event(f"https://{API_HOST}/twilio/sms", params, signature)
        event["headers"]["X-Twilio-Webhooks-Signature-Settings"] = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
        return int(intercept(event, FakeLambdaContext())["statusCode"])

    assert post("shared-key-secret", "SM" + "e" * 32) == 200
    assert sandbox_http_client().sent[-1].body.endswith("sha256")
    assert post("not-the-secret", "SM" + "f" * 32) == 403
