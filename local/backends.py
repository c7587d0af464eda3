"""Embedded AWS for the local runner and the integration tests: moto, in-process.

``EmbeddedAws.start()`` starts moto before any boto3 client exists, builds the table
from template.yaml's own KeySchema, the outbox queue and its DLQ, the retry queue, the
forward queue and its DLQ, and the SSM
parameters the functions read their Twilio credentials from, and the Secrets Manager
secret holding the admin API key. It returns the environment the functions need.

DynamoDB applies each request atomically; moto, called from several threads at once,
does not. ``serialize_requests`` makes moto handle one request at a time, as the real
service would, so concurrency tests exercise our conditional writes, not moto's races.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from local.template import table_definition

REGION = "us-east-1"
TABLE_NAME = "masking-local"
OUTBOX_QUEUE = "masking-local-outbox"
SECRETS_PATH = "/masking/local"
RETRY_QUEUE = "masking-local-retry"
FORWARD_QUEUE = "masking-local-forward"
FALLBACK_QUEUE = "masking-local-fallback"
HOOKS_QUEUE = "masking-local-hooks"
OWNER_ALERT_TOPIC = "masking-local-owner-alerts"
AIRTABLE_BASE_ID = "appLOCALSTANDIN"
DEMO_ACCOUNT_SID = "AC" + "1" * 32
DEMO_AUTH_TOKEN = "local-demo-auth-token-not-a-secret"
ADMIN_API_KEY_SECRET = "masking/local/admin-api-key"
DEMO_ADMIN_API_KEY = "local-admin-api-key-not-a-secret"
VERIFICATION_PHONE = "+13035550199"

_moto_lock = threading.RLock()
_serialized = False


def serialize_requests() -> None:
    global _serialized
    if _serialized:
        return
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__

    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _moto_lock:
            return original(self, *args, **kwargs)

    BotocoreStubber.__call__ = locked  # type: ignore[method-assign]
    _serialized = True


def fake_credentials_env() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


@dataclass
class EmbeddedAws:
    auth_token: str = DEMO_AUTH_TOKEN
    account_sid: str = DEMO_ACCOUNT_SID
    admin_api_key: str = DEMO_ADMIN_API_KEY
    env: dict[str, str] = field(default_factory=dict)
    _mock: Any = None

    def start(self) -> dict[str, str]:
        os.environ.update(fake_credentials_env())
        from moto import mock_aws

        serialize_requests()
        self._mock = mock_aws()
        self._mock.start()
        import boto3

        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(TableName=TABLE_NAME, **table_definition())
        sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName=f"{OUTBOX_QUEUE}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_url = sqs.create_queue(
            QueueName=OUTBOX_QUEUE,
            Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"5"}}'},
        )["QueueUrl"]
        retry_url = sqs.create_queue(QueueName=RETRY_QUEUE)["QueueUrl"]
        forward_dlq_url = sqs.create_queue(QueueName=f"{FORWARD_QUEUE}-dlq")["QueueUrl"]
        forward_url = sqs.create_queue(QueueName=FORWARD_QUEUE)["QueueUrl"]
        fallback_url = sqs.create_queue(QueueName=FALLBACK_QUEUE)["QueueUrl"]  # nothing lost: storage
        hooks_dlq_url = sqs.create_queue(QueueName=f"{HOOKS_QUEUE}-dlq")["QueueUrl"]
        hooks_url = sqs.create_queue(QueueName=HOOKS_QUEUE)["QueueUrl"]
        topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name=OWNER_ALERT_TOPIC)["TopicArn"]
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.put_parameter(Name=f"{SECRETS_PATH}/airtable/token", Value="local-standin-token", Type="SecureString")
        ssm.put_parameter(Name=f"{SECRETS_PATH}/airtable/base_id", Value=AIRTABLE_BASE_ID, Type="SecureString")
        ssm.put_parameter(Name=f"{SECRETS_PATH}/twilio/account_sid", Value=self.account_sid, Type="String")
        ssm.put_parameter(Name=f"{SECRETS_PATH}/twilio/auth_token", Value=self.auth_token, Type="SecureString")
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secret_arn = secrets.create_secret(Name=ADMIN_API_KEY_SECRET, SecretString=self.admin_api_key)["ARN"]
        self.env = {
            "TABLE_NAME": TABLE_NAME,
            "OUTBOX_QUEUE_URL": queue_url,
            "OUTBOX_DLQ_URL": dlq_url,
            "RETRY_QUEUE_URL": retry_url,
            "FALLBACK_QUEUE_URL": fallback_url,
            "RETRY_DELAY_SECONDS": "5",  # 600 in AWS; the runner's resends come 5 s later
            "FORWARD_QUEUE_URL": forward_url,
            "FORWARD_DLQ_URL": forward_dlq_url,
            "FORWARD_RETRY_DELAYS": "1,2,3,4,5",  # 15 s .. 2 h in AWS
            "HOOKS_QUEUE_URL": hooks_url,
            "HOOKS_DLQ_URL": hooks_dlq_url,
            "HOOK_RETRY_DELAYS": "1,2,3",  # 30 s .. 15 min in AWS
            "HOOKS_ALLOW_LOOPBACK": "true",  # http://127.0.0.1 targets: the runner's own catch endpoint
            "OWNER_ALERT_TOPIC_ARN": topic_arn,
            "SECRETS_PATH": SECRETS_PATH,
            "ADMIN_API_KEY_SECRET": secret_arn,
            "PREFERRED_AREA_CODES": "303,720",
            "VERIFICATION_PHONE": VERIFICATION_PHONE,
            "TWILIO_TRANSPORT": "sandbox",
            "POWERTOOLS_SERVICE_NAME": "masking",
            "POWERTOOLS_METRICS_NAMESPACE": "Masking",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        os.environ.update(self.env)
        return self.env

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def drain_outbox(self, max_messages: int = 1000) -> list[str]:
        """Receives and deletes what is on the outbox queue; returns the bodies."""
        return self.drain("OUTBOX_QUEUE_URL", max_messages)

    def requeue(self, queue_env: str, bodies: list[str], delay_seconds: int = 0) -> None:
        """Puts ``bodies`` back on a queue (by its env name), delayed."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        for body in bodies:
            sqs.send_message(QueueUrl=self.env[queue_env], MessageBody=body, DelaySeconds=delay_seconds)

    def drain(self, queue_env: str, max_messages: int = 1000) -> list[str]:
        """Receives and deletes what is visible on a queue (by its env name); returns the bodies."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        bodies: list[str] = []
        while len(bodies) < max_messages:
            response = sqs.receive_message(QueueUrl=self.env[queue_env], MaxNumberOfMessages=10)
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                bodies.append(message["Body"])
            sqs.delete_message_batch(
                QueueUrl=self.env[queue_env],
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return bodies
