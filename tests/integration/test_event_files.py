"""The new events/ files (voice, POST /calls, schedules, SQS batches) drive the deployed
handlers: what `sam local invoke -e events/<file>.json` would do, on moto."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from local.backends import EmbeddedAws
from tests.integration.conftest import seeded_demo_aws
from tests.support import POOL, PROVIDER, FakeLambdaContext, load_event, load_handler


@pytest.fixture
def aws():  # the events/ files are signed with the demo token
    with seeded_demo_aws() as embedded:
        yield embedded


def test_voice_event_bridges_the_client_to_the_provider(aws: EmbeddedAws) -> None:
    response = load_handler("call_connect").lambda_handler(load_event("voice_inbound_from_client"), FakeLambdaContext())

    assert response["statusCode"] == 200
    dial = ET.fromstring(response["body"]).find("Dial")
    assert dial is not None and dial.get("callerId") == POOL[0]
    assert (dial.findtext("Number") or "").strip() == PROVIDER.phone


@pytest.mark.parametrize("name", ["voice_bridge", "voice_status_completed"])
def test_voice_callback_events_pass_the_signature_check(aws: EmbeddedAws, name: str) -> None:
    response = load_handler("call_connect").lambda_handler(load_event(name), FakeLambdaContext())

    assert response["statusCode"] == 200, response


def test_retry_batch_event_is_parsed_and_an_unknown_part_is_dropped_not_retried(aws: EmbeddedAws) -> None:
    from masking.wiring import sandbox_http_client

    response = load_handler("resend").lambda_handler(load_event("sqs_retry_batch"), FakeLambdaContext())

    assert response == {"batchItemFailures": []}  # a body it could not parse would be reported here
    assert sandbox_http_client().sent == []
