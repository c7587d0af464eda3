"""functions/airtable_sync/app.py as Lambda runs it: SQS outbox (moto) -> handler ->
Airtable (stand-in), with the token and base id from SSM SecureString.

Given mirror records published on the outbox by the real publisher, when the queue is
drained into the handler the way the event source mapping does (deleting what succeeded,
redelivering what it reports as failed), then Airtable has one row per key and a poison
record reaches the DLQ after maxReceiveCount receives, nothing else."""

from __future__ import annotations

import sys
from typing import Any

import boto3
import pytest

from local.airtable_standin import DEFAULT_URL, AirtableStandin, apply_mirror_schema
from local.backends import SECRETS_PATH
from masking.adapters.aws_queues import SqsOutbox
from masking.mirror.outbox import MirrorRecord
from masking.mirror.rows import audit_record
from tests.support import FakeLambdaContext, load_handler

BASE = "appSYNCTEST000000"
TOKEN = "sync-token-not-a-secret"
STAMP = "2026-11-01T12:00:00Z"


@pytest.fixture
def standin(aws, monkeypatch) -> AirtableStandin:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=f"{SECRETS_PATH}/airtable/token", Value=TOKEN, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name=f"{SECRETS_PATH}/airtable/base_id", Value=BASE, Type="SecureString", Overwrite=True)
    monkeypatch.setenv("AIRTABLE_API_URL", DEFAULT_URL)
    monkeypatch.setenv("AIRTABLE_REQUESTS_PER_SECOND", "50")  # pacing is the unit tests' subject; keep this test fast
    standin = AirtableStandin(token=TOKEN)
    apply_mirror_schema(standin, BASE)
    standin.limits = False
    app = load_handler("airtable_sync")
    app_handler = sys.modules["airtable_mirror.handler"]
    app_handler.get_mirror.cache_clear()
    app_handler._links.clear()
    yield standin
    app_handler.get_mirror.cache_clear()
    del app


def drain(aws, standin: AirtableStandin, rounds: int = 10) -> list[dict[str, Any]]:
    """Receives batches and invokes the handler like the event source mapping (batch 10,
    ReportBatchItemFailures): successes are deleted, failures become visible again."""
    app = load_handler("airtable_sync")
    sqs = boto3.client("sqs")
    queue = aws.env["OUTBOX_QUEUE_URL"]
    responses = []
    for _ in range(rounds):
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not messages:
            break
        event = {"Records": [sqs_record(m) for m in messages]}
        with standin.intercept(DEFAULT_URL):
            response = app.lambda_handler(event, FakeLambdaContext(function_name="masking-airtable-sync"))
        responses.append(response)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return responses


def sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:masking-local-outbox",
        "awsRegion": "us-east-1",
    }


def test_outbox_records_reach_airtable_once_even_when_published_twice(aws, standin):
    records = [
        MirrorRecord("message", "SM1", {"From": "+13035550201", "Body": "Hi", "Sitter": "prov-sam", "Status": "sent"}, STAMP),
        MirrorRecord("client", "cl-olivia", {"Name": "Olivia Owner", "Linked Sitter": "prov-sam", "Last Active": STAMP}, STAMP),
        audit_record("Client created", "new", category="Client Sync", severity="Info", at=STAMP, key="SM1:Client created"),
    ]
    outbox = SqsOutbox(aws.env["OUTBOX_QUEUE_URL"])
    outbox.publish(records)
    outbox.publish(records)  # a retried webhook publishes the same records again

    responses = drain(aws, standin)

    assert all(r == {"batchItemFailures": []} for r in responses)
    assert len(standin.rows("Messages", BASE)) == 1
    assert len(standin.rows("Clients", BASE)) == 1
    assert len(standin.rows("Audit Log", BASE)) == 1
    [sitter] = standin.rows("Sitters", BASE)
    assert standin.rows("Messages", BASE)[0]["fields"]["Sitter"] == [sitter["id"]]


def test_a_poison_record_lands_in_the_dlq_after_five_receives_and_nothing_else_does(aws, standin):
    poison = MirrorRecord("client", "cl-bad", {"Name": "Bad", "Twilio Error Count": "lots"}, STAMP)
    good = [MirrorRecord("message", f"SM{i}", {"Body": f"hello {i}", "Sitter": "prov-sam"}, STAMP) for i in range(4)]
    SqsOutbox(aws.env["OUTBOX_QUEUE_URL"]).publish([*good[:2], poison, *good[2:]])

    responses = drain(aws, standin)

    assert len([r for r in responses if r["batchItemFailures"]]) == 5
    sqs = boto3.client("sqs")
    dlq = sqs.receive_message(QueueUrl=aws.env["OUTBOX_DLQ_URL"], MaxNumberOfMessages=10).get("Messages", [])
    assert [MirrorRecord.from_json(m["Body"]).key for m in dlq] == ["cl-bad"]
    assert len(standin.rows("Messages", BASE)) == 4
    assert standin.rows("Clients", BASE) == []


def test_credentials_come_from_ssm_and_a_wrong_token_fails_the_whole_batch(aws, standin):
    standin.token = "another-token"
    SqsOutbox(aws.env["OUTBOX_QUEUE_URL"]).publish([MirrorRecord("client", "cl-1", {"Name": "A"}, STAMP)])

    [response, *_] = drain(aws, standin, rounds=1)

    assert len(response["batchItemFailures"]) == 1
    boto3.client("ssm").put_parameter(Name=f"{SECRETS_PATH}/airtable/token", Value="another-token", Type="SecureString", Overwrite=True)
    from aws_lambda_powertools.utilities.parameters import clear_caches

    clear_caches()
    assert drain(aws, standin) == [{"batchItemFailures": []}]  # the 401 dropped the cached client: the new token is read
    assert len(standin.rows("Clients", BASE)) == 1
