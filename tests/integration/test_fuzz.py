"""Fuzz every Twilio and admin route (issue 12): 0 answers of 5xx.

A seeded generator (reproducible: the seed is in the failure message) builds signed Twilio
requests and keyed admin requests full of the values that broke things before: Unicode
digits, trailing newlines, huge bodies, hosts that are not Twilio's, deep JSON, numbers
where text goes, phones written every way. They go through the deployed functions'
``lambda_handler`` with DynamoDB, SQS and SSM in moto. Runs in the normal suite (~30 s).
"""

from __future__ import annotations

import json
import random
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from local.apigw import api_gateway_event
from local.backends import DEMO_ADMIN_API_KEY, EmbeddedAws
from local.template import api_routes
from masking.store.admin import DynamoAdminStore
from tests.support import API_HOST, OLIVIA, POOL, PROVIDER, FakeLambdaContext, load_handler, seed, signed_event

SEED = 20261127
TWILIO_REQUESTS = 450
ADMIN_REQUESTS = 220

HANDLERS = {name: load_handler(name).lambda_handler for name in ("intercept", "call_connect", "create_session")}
FUNCTION_DIR = {"InterceptFunction": "intercept", "CallConnectFunction": "call_connect", "CreateSessionFunction": "create_session"}

NASTY = [
    "",
    " ",
    "²",
    "٣",
    "10",
    "-1",
    "99999999999999999999",
    "1e3",
    "NaN",
    "+13035550201\n",
    OLIVIA.phone,
    PROVIDER.phone,
    PROVIDER.reserved_number or "",
    POOL[0],
    "(303) 555-0201",
    "303.555.0201",
    "+1 303 555 0201",
    "+99999999999999999",
    "SM" + "0" * 32,
    "MM" + "1" * 32,
    "CA" + "2" * 32,
    "CS" + "3" * 32,
    "SY" + "4" * 32 + ".system",
    "SM1.alert",
    "STOP",
    "HELP",
    "START",
    "yes",
    "x" * 1601,
    "y" * 20_000,
    "https://169.254.169.254/latest/meta-data/",
    "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    "file:///etc/passwd",
    "%",
    "%zz",
    "&=&",
    "\x00",
    "\u202e",
    "🙂" * 50,
    "'; DROP TABLE x; --",
    "<Response><Dial>+13035550201</Dial></Response>",
    "completed",
    "failed",
    "undelivered",
    "in-progress",
    "busy",
    "30003",
    "30007",
]
TWILIO_FIELDS = [
    "MessageSid",
    "SmsSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "MediaUrl0",
    "MediaUrl1",
    "MessageStatus",
    "SmsStatus",
    "ErrorCode",
    "CallSid",
    "CallStatus",
    "CallDuration",
    "DialCallStatus",
    "DialCallDuration",
    "DialCallSid",
    "Direction",
]
DIGITS = ["²", "٣", "\uff11", "-1", "99999999999999999999", "1e3", "", " 7", "7\n", "0x10"]
PHONES = ["+13035550201\n", "(303) 555-0201", "+1303555020²", "+", "+99999999999999999", "13035550201", OLIVIA.phone + " "]
FIELD_NASTY = {
    "NumMedia": [*DIGITS, "1", "2", "11"],
    "CallDuration": DIGITS,
    "DialCallDuration": DIGITS,
    "ErrorCode": DIGITS,
    "From": PHONES,
    "To": PHONES,
    "Body": ["x" * 1601, "y" * 100_000, "STOP\n", "\x00", "🙂" * 900],
    "MediaUrl0": [
        "https://169.254.169.254/latest/meta-data/",
        "https://example.com/a.jpg",
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "http://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    ],
    "MessageSid": ["SM", "SM" + "x" * 100, "MM1\n", "SY1"],
}
ADMIN_FIELDS = [
    "provider",
    "client",
    "client_phone",
    "phone",
    "name",
    "email",
    "external_id",
    "ttl_days",
    "notify",
    "lifecycle",
    "area_code",
    "attach",
    "reference",
    "Sitter ID",
    "clientPhone",
    "include_expired",
    "status",
]


def nasty_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.1:
        return [nasty_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 3 and roll < 0.15:
        return {rng.choice(ADMIN_FIELDS): nasty_json(rng, depth + 1)}
    if roll < 0.25:
        return rng.choice([None, True, False, 0, -1, 3.5, 1e308, 10**30])
    return rng.choice(NASTY)


def path_for(template: str, rng: random.Random) -> str:
    parts = []
    for part in template.split("/"):
        if part.startswith("{"):
            parts.append(quote(rng.choice([p for p in NASTY if p.strip() and len(p) < 200]) or "x", safe=""))
        else:
            parts.append(part)
    return "/".join(parts)


def genuine_params(route: str, rng: random.Random) -> dict[str, str]:
    """What Twilio would send on ``route``: the base the fuzzer spoils."""
    sid = "SM" + "".join(rng.choice("0123456789abcdef") for _ in range(32))
    call_sid = "CA" + sid[2:]
    if route == "/twilio/sms":
        sender, to = rng.choice([(OLIVIA.phone, PROVIDER.reserved_number or ""), (PROVIDER.phone, POOL[0]), ("+13035550999", POOL[1])])
        return {"MessageSid": sid, "From": sender, "To": to, "Body": rng.choice(["hi", "HELP", "STOP", "Rex is fine"]), "NumMedia": "0"}
    if route.startswith("/twilio/sms/status"):
        return {"MessageSid": sid, "MessageStatus": rng.choice(["delivered", "failed", "undelivered"]), "ErrorCode": "30003"}
    if route == "/twilio/voice":
        return {"CallSid": call_sid, "From": OLIVIA.phone, "To": PROVIDER.reserved_number or "", "CallStatus": "ringing"}
    return {"CallSid": call_sid, "CallStatus": "completed", "CallDuration": "12", "DialCallStatus": "completed", "DialCallDuration": "7"}


@pytest.fixture
def deployed(aws: EmbeddedAws) -> EmbeddedAws:
    seed(DynamoAdminStore(aws.env["TABLE_NAME"]))
    return aws


def test_no_route_answers_5xx_to_anything(deployed: EmbeddedAws) -> None:
    rng = random.Random(SEED)
    routes = api_routes()
    twilio = [r for r in routes if r.path.startswith("/twilio/")]
    admin = [r for r in routes if not r.path.startswith("/twilio/") and r.function in FUNCTION_DIR]
    assert len(twilio) >= 9 and len(admin) >= 10
    failures: list[str] = []

    for index in range(TWILIO_REQUESTS):
        route = twilio[index % len(twilio)]
        path = path_for(route.path, rng)
        query = {"ref": rng.choice(NASTY), "call": rng.choice(NASTY), "leg": rng.choice(["dial", "x", ""])} if rng.random() < 0.3 else {}
        url = f"https://{API_HOST}{path}" + ("?" + urlencode(query) if query else "")
        params = genuine_params(route.path, rng)
        fields = sorted(set(params) | {rng.choice(TWILIO_FIELDS)})
        for field in rng.sample(fields, 1 if rng.random() < 0.7 else min(3, len(fields))):  # a genuine request, 1-3 fields spoilt
            if rng.random() < 0.1:
                params.pop(field, None)
            else:
                params[field] = rng.choice(FIELD_NASTY.get(field, NASTY) if rng.random() < 0.6 else NASTY)
        if params.get("NumMedia", "0") not in ("", "0") and rng.random() < 0.7:
            params["MediaUrl0"] = rng.choice(FIELD_NASTY["MediaUrl0"])
        event = signed_event(url, params, signature="forged" if rng.random() < 0.05 else None)
        if rng.random() < 0.05:
            event["body"] = "%%%&&==" + rng.choice(NASTY)
        response = HANDLERS[FUNCTION_DIR[route.function]](event, FakeLambdaContext())
        if response["statusCode"] >= 500:
            failures.append(f"{route.method} {url} {params}: {response}")

    for index in range(ADMIN_REQUESTS):
        route = admin[index % len(admin)]
        path = path_for(route.path, rng)
        roll = rng.random()
        if roll < 0.6:
            body: str | None = json.dumps({field: nasty_json(rng) for field in rng.sample(ADMIN_FIELDS, rng.randint(0, 6))})
            content_type = "application/json"
        elif roll < 0.8:
            body = urlencode({field: rng.choice(NASTY) for field in rng.sample(ADMIN_FIELDS, rng.randint(0, 6))})
            content_type = "application/x-www-form-urlencoded"
        else:
            body = rng.choice(["[" * 3000 + "]" * 3000, "{", "null", "[]", '"x"', "\xff", "{}" * 100])
            content_type = rng.choice(["application/json", "text/plain", "", "application/xml"])
        query = {field: rng.choice(NASTY) for field in rng.sample(ADMIN_FIELDS, rng.randint(0, 3))}
        url = f"https://{API_HOST}{path}" + ("?" + urlencode(query) if query else "")
        headers = {"X-Api-Key": DEMO_ADMIN_API_KEY, "Content-Type": content_type}
        event = api_gateway_event(route.method, url, body=body, headers=headers, stage="dev")
        response = HANDLERS["create_session"](event, FakeLambdaContext(function_name="masking-create-session"))
        if response["statusCode"] >= 500 and response["statusCode"] != 502:  # 502: the Twilio sandbox refused, by design
            failures.append(f"{route.method} {url} {body!r:.300}: {response}")

    assert failures == [], f"seed {SEED}: {len(failures)} answers of 5xx, first: {failures[0]:.2000}"
