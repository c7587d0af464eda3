"""functions/airtable_sync/app.py as Lambda runs it: SQS outbox (moto) -> handler ->
Airtable (stand-in), with the token and base id from SSM SecureString.

Given mirror records published on the outbox by the real publisher, when the queue is
drained into the handler the way the event source mapping does (deleting what succeeded,
redelivering what it reports as failed), then Airtable has one row per key, a drifted table
is parked in DynamoDB and comes back through the scheduled redrive, and the DLQ is emptied
once Airtable answers."""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

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


def owner_alerts(aws) -> Any:
    """An SQS queue subscribed to the owner alert topic, to read what SNS sent."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="owner-alerts-probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=aws.env["OWNER_ALERT_TOPIC_ARN"], Protocol="sqs", Endpoint=arn)
    return lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])


def test_a_drifted_table_is_parked_in_dynamodb_alerted_once_and_the_schedule_brings_it_back(aws, standin):
    alerts = owner_alerts(aws)
    standin.rename_field("Clients", "Name", "Client Name", BASE)
    clients = [MirrorRecord("client", f"cl-{i}", {"Name": f"Client {i}"}, STAMP) for i in range(4)]
    messages = [MirrorRecord("message", f"SM{i}", {"Body": f"hello {i}", "Sitter": "prov-sam"}, STAMP) for i in range(4)]
    SqsOutbox(aws.env["OUTBOX_QUEUE_URL"]).publish([*clients[:2], *messages, *clients[2:]])

    responses = drain(aws, standin)

    assert all(r == {"batchItemFailures": []} for r in responses)  # parked, so done for SQS
    assert len(standin.rows("Messages", BASE)) == 4
    assert standin.rows("Clients", BASE) == []
    table = boto3.resource("dynamodb").Table(aws.env["TABLE_NAME"])
    parked = table.query(KeyConditionExpression=Key("pk").eq("AIRTABLE#PARKED#client"))["Items"]
    assert len(parked) == 4
    [alert] = alerts()
    text = json.loads(alert["Body"])["Message"]
    assert 'field "Name" of table "Clients"' in text

    app = load_handler("airtable_sync")
    with standin.intercept(DEFAULT_URL):
        still = app.redrive_handler({"source": "aws.events"}, FakeLambdaContext(function_name="masking-airtable-redrive"))
    assert still["probed"] == {"client": "drifted"}
    standin.rename_field("Clients", "Client Name", "Name", BASE)
    with standin.intercept(DEFAULT_URL):
        fixed = app.redrive_handler({"source": "aws.events"}, FakeLambdaContext(function_name="masking-airtable-redrive"))
    assert fixed["probed"] == {"client": "fixed"} and fixed["released_parked"] == 3
    drain(aws, standin)
    assert sorted(r["fields"]["Name"] for r in standin.rows("Clients", BASE)) == [f"Client {i}" for i in range(4)]
    assert table.query(KeyConditionExpression=Key("pk").eq("AIRTABLE#PARKED#client"))["Items"] == []
    assert alerts() == []  # one alert for the whole episode


def test_the_schedule_moves_dlq_messages_back_once_airtable_answers(aws, standin):
    sqs = boto3.client("sqs")
    record = MirrorRecord("client", "cl-dlq", {"Name": "From the DLQ"}, STAMP)
    sqs.send_message(QueueUrl=aws.env["OUTBOX_DLQ_URL"], MessageBody=record.to_json())
    sqs.send_message(QueueUrl=aws.env["OUTBOX_DLQ_URL"], MessageBody="not a mirror record")
    app = load_handler("airtable_sync")
    standin.outage("5xx", seconds=3600)
    with standin.intercept(DEFAULT_URL):
        down = app.redrive_handler({}, FakeLambdaContext(function_name="masking-airtable-redrive"))
    assert down["dlq_moved"] == 0
    standin.outage(None)
    table = boto3.resource("dynamodb").Table(aws.env["TABLE_NAME"])
    table.delete_item(Key={"pk": "AIRTABLE#CONTROL", "sk": "QUIET"})  # the outage's quiet minute is over

    with standin.intercept(DEFAULT_URL):
        report = app.redrive_handler({}, FakeLambdaContext(function_name="masking-airtable-redrive"))

    assert report["dlq_moved"] == 1
    drain(aws, standin)
    assert [r["fields"]["Name"] for r in standin.rows("Clients", BASE)] == ["From the DLQ"]
    left = sqs.get_queue_attributes(QueueUrl=aws.env["OUTBOX_DLQ_URL"], AttributeNames=["All"])["Attributes"]
    assert int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"]) == 1  # unreadable: for a person


def test_watermarks_in_dynamodb_keep_the_newer_value_across_redeliveries(aws, standin):
    outbox = SqsOutbox(aws.env["OUTBOX_QUEUE_URL"])
    outbox.publish([MirrorRecord("client", "cl-1", {"Name": "Newer"}, STAMP, version=200)])
    drain(aws, standin)
    outbox.publish([MirrorRecord("client", "cl-1", {"Name": "Older", "Email": "o@example.com"}, STAMP, version=100)])
    drain(aws, standin)

    [row] = standin.rows("Clients", BASE)
    assert (row["fields"]["Name"], row["fields"]["Email"]) == ("Newer", "o@example.com")


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
