"""The deployed shape of parked forwards: intercept parks on the forward queue (SQS, moto),
the ``forward`` function's lambda_handler consumes it, gives up into the forward DLQ."""

from __future__ import annotations

import json
import time

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from local.backends import EmbeddedAws
from masking.messaging.forwarding import UNDELIVERED_TO_SENDER, ParkedForward
from masking.store.dynamo import DynamoRoutingStore
from masking.wiring import sandbox_http_client
from tests.integration.conftest import seeded_demo_aws
from tests.support import OLIVIA, PROVIDER, FakeLambdaContext, load_event, load_handler

intercept = load_handler("intercept").lambda_handler
forward = load_handler("forward").lambda_handler


@pytest.fixture
def aws():  # the events/ files are signed with the demo token
    with seeded_demo_aws(FORWARD_RETRY_DELAYS="0,0") as embedded:  # no waiting in a test: 3 attempts in all
        yield embedded


def sqs_event(bodies: list[str]) -> dict:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:forward",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def test_a_parked_forward_goes_through_the_queue_and_the_function_once(aws: EmbeddedAws) -> None:
    sandbox_http_client().fail_next_send("read_timeout")

    response = intercept(load_event("sms_inbound_from_client"), FakeLambdaContext())

    assert response["statusCode"] == 200 and sandbox_http_client().sent == []
    [body] = aws.drain("FORWARD_QUEUE_URL")
    assert ParkedForward.from_json(body).ambiguous
    result = forward(sqs_event([body, body]), FakeLambdaContext())  # one record delivered twice

    assert result == {"batchItemFailures": []}
    [sms] = sandbox_http_client().sent
    assert (sms.to_phone, sms.body) == (PROVIDER.phone, "From Olivia Owner: Hi Sam, is Rex eating OK?")
    kinds = {json.loads(b)["kind"] for b in aws.drain_outbox()}
    assert "message" in kinds


def test_the_last_attempt_puts_the_forward_in_the_dlq_and_tells_the_sender(aws: EmbeddedAws) -> None:
    sandbox_http_client().fail_next_send("503", times=3)
    intercept(load_event("sms_inbound_from_client"), FakeLambdaContext())
    for _ in range(2):
        time.sleep(0.05)
        bodies = aws.drain("FORWARD_QUEUE_URL")
        assert len(bodies) == 1
        assert forward(sqs_event(bodies), FakeLambdaContext()) == {"batchItemFailures": []}

    assert aws.drain("FORWARD_QUEUE_URL") == []
    [dead] = aws.drain("FORWARD_DLQ_URL")
    assert ParkedForward.from_json(dead).attempt == 3
    [notice] = sandbox_http_client().sent
    assert (notice.to_phone, notice.body) == (OLIVIA.phone, UNDELIVERED_TO_SENDER)


def test_a_record_that_cannot_finish_now_is_a_batch_item_failure(aws: EmbeddedAws) -> None:
    sandbox_http_client().fail_next_send("503")
    intercept(load_event("sms_inbound_from_client"), FakeLambdaContext())
    [body] = aws.drain("FORWARD_QUEUE_URL")
    parked = ParkedForward.from_json(body)
    store = DynamoRoutingStore(aws.env["TABLE_NAME"])
    now = int(time.time())
    store.claim_forward_part(parked.message_sid, 0, "a-live-attempt", now, now - 120)

    with pytest.raises(BatchProcessingError):  # every record failed: the batch goes back to SQS
        forward(sqs_event([body]), FakeLambdaContext())
    assert sandbox_http_client().sent == []

    store.finish_forward_part(parked.message_sid, 0, "a-live-attempt", None, ambiguous=True)  # that attempt failed
    assert forward(sqs_event([body]), FakeLambdaContext()) == {"batchItemFailures": []}
    assert len(sandbox_http_client().sent) == 1
