"""events/ holds one event for every route and trigger of template.yaml, as
``python -m local.make_events`` writes them (before: 16 of 25 triggers had one)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from local.backends import DEMO_AUTH_TOKEN
from local.make_events import EVENTS, all_events
from local.template import load_template


def _committed() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(EVENTS.glob("*.json"))}


def _triggers() -> list[tuple[str, str, dict[str, Any]]]:
    triggers = []
    for logical_id, spec in load_template()["Resources"].items():
        if spec.get("Type") == "AWS::Serverless::Function":
            for event_id, event in (spec["Properties"].get("Events") or {}).items():
                triggers.append((logical_id, event_id, event))
    return triggers


def _covers(event: dict[str, Any], trigger: dict[str, Any]) -> bool:
    props = trigger["Properties"]
    if trigger["Type"] == "Api":
        return event.get("httpMethod") == props["Method"].upper() and event.get("resource") == props["Path"]
    if trigger["Type"] == "SQS":
        queue = props["Queue"]["Fn::GetAtt"][0]  # !GetAtt <Queue>.Arn
        records = event.get("Records") or [{}]
        return all(r.get("eventSource") == "aws:sqs" and f"-{queue}-" in r.get("eventSourceARN", "") for r in records)
    if trigger["Type"] == "ScheduleV2":
        return event == json.loads(props["Input"])
    raise AssertionError(f"unknown trigger type {trigger['Type']}: teach local.make_events and this test about it")


def test_every_route_and_trigger_has_an_event_file() -> None:
    events = _committed()
    missing = [
        f"{function}.{event_id} ({trigger['Type']})"
        for function, event_id, trigger in _triggers()
        if not any(_covers(event, trigger) for event in events.values())
    ]
    assert not missing, f"no events/*.json for: {missing}; add one to local/make_events.py and run python -m local.make_events"
    assert len(_triggers()) >= 25


def test_the_trigger_check_notices_a_missing_event() -> None:
    events = {k: v for k, v in _committed().items() if k != "voice_bridge"}
    [bridge] = [t for _, event_id, t in _triggers() if event_id == "TwilioVoiceBridge"]
    assert not any(_covers(event, bridge) for event in events.values())


def test_events_are_what_make_events_writes() -> None:
    generated = json.loads(json.dumps(all_events()))
    assert _committed() == generated, "events/ is stale: run python -m local.make_events"


def test_twilio_events_carry_a_valid_demo_signature_except_the_forged_one() -> None:
    validator = RequestValidator(DEMO_AUTH_TOKEN)
    for name, event in _committed().items():
        if not name.startswith(("sms_", "voice_")):
            continue
        query = event["multiValueQueryStringParameters"] or {}
        url = f"https://{event['headers']['Host']}{event['requestContext']['path']}"
        if query:
            url += "?" + "&".join(f"{k}={v}" for k, values in query.items() for v in values)
        params = dict(parse_qsl(event["body"], keep_blank_values=True))
        valid = validator.validate(url, params, event["headers"]["X-Twilio-Signature"])
        assert valid is (name != "sms_bad_signature"), name
