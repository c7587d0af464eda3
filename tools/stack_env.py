"""What ``tools.setup`` and ``tools.doctor`` share: the stack's Outputs and Parameters, the
URLs each number must point at, the SSM parameter names, and the adapters (DynamoDB admin
store, outbox, Twilio client, Airtable base) built from them.

The stack is read with CloudFormation ``DescribeStacks`` (``--stack-name``), or from a
JSON file (``--outputs-json``: ``{"OutputKey": "value", ...}``, or a saved
``aws cloudformation describe-stacks`` answer), which is how the local runner and the
tests describe their embedded backends.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "masking"
for _path in (ROOT, LAYER):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from masking.adapters.twilio_numbers_admin import NumberWebhooks  # noqa: E402

SMS_PATH = "/twilio/sms"
VOICE_PATH = "/twilio/voice"


class SetupError(Exception):
    """Something the operator must fix before the tool can go on (exit code 2)."""


@dataclass
class Stack:
    outputs: dict[str, str]
    parameters: dict[str, str] = field(default_factory=dict)
    name: str = ""

    def output(self, key: str, default: str = "") -> str:
        return self.outputs.get(key, default) or default

    @property
    def environment(self) -> str:
        return self.parameters.get("Environment") or "dev"

    @property
    def secrets_path(self) -> str:
        return f"/masking/{self.environment}"

    @property
    def api_url(self) -> str:
        url = self.output("ApiUrl") or self.output("AdminApiUrl")
        if not url and self.output("TwilioSmsWebhookUrl"):
            url = self.output("TwilioSmsWebhookUrl").removesuffix(SMS_PATH)
        if not url:
            raise SetupError("the stack has no ApiUrl output: deploy it first (sam deploy)")
        return url.rstrip("/")

    @property
    def webhooks(self) -> NumberWebhooks:
        """Where every number we own must point: the stack's SMS and voice webhooks, and the
        fallback URLs when the stack has them (Outputs TwilioSmsFallbackUrl / TwilioVoiceFallbackUrl)."""
        base = self.api_url
        return NumberWebhooks(
            sms_url=self.output("TwilioSmsWebhookUrl", base + SMS_PATH),
            voice_url=self.output("TwilioVoiceWebhookUrl", base + VOICE_PATH),
            sms_fallback_url=self.output("TwilioSmsFallbackUrl"),
            voice_fallback_url=self.output("TwilioVoiceFallbackUrl"),
        )

    @property
    def table_name(self) -> str:
        name = self.output("TableName")
        if not name:
            raise SetupError("the stack has no TableName output")
        return name

    @property
    def messaging_service_sid(self) -> str:
        return self.parameters.get("MessagingServiceSid", "") or self.output("MessagingServiceSid")

    @property
    def dead_letter_queues(self) -> dict[str, str]:
        """Every queue URL output whose name says dead-letter (OutboxDeadLetterQueueUrl, ...)."""
        return {key: value for key, value in sorted(self.outputs.items()) if value and "DeadLetter" in key and key.endswith("Url")}


def stack_from_describe(answer: dict[str, Any]) -> Stack:
    stacks = answer.get("Stacks") or [answer]
    found = stacks[0]
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in found.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters", [])}
    return Stack(outputs=outputs, parameters=parameters, name=str(found.get("StackName", "")))


def read_stack(stack_name: str | None, outputs_json: str | None, cloudformation: Any = None) -> Stack:
    if outputs_json:
        try:
            data = json.loads(Path(outputs_json).read_text())
        except (OSError, ValueError) as error:
            raise SetupError(f"cannot read the stack Outputs from {outputs_json}: {error}") from error
        if "Stacks" in data or "Outputs" in data:
            return stack_from_describe(data)
        parameters = data.pop("Parameters", {}) if isinstance(data.get("Parameters"), dict) else {}
        return Stack(outputs={k: str(v) for k, v in data.items()}, parameters=parameters, name="(from file)")
    if not stack_name:
        raise SetupError("name the stack (--stack-name, e.g. masking-dev) or give --outputs-json")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = cloudformation or boto3.client("cloudformation")
        answer = client.describe_stacks(StackName=stack_name)
    except ClientError as error:
        raise SetupError(f"cannot read stack {stack_name}: {error.response.get('Error', {}).get('Message', error)}") from error
    except BotoCoreError as error:  # no credentials, no region, no network
        raise SetupError(f"cannot read stack {stack_name}: {error}") from error
    return stack_from_describe(answer)


def secret_names(secrets_path: str) -> dict[str, str]:
    base = secrets_path.rstrip("/")
    return {
        "twilio_account_sid": f"{base}/twilio/account_sid",
        "twilio_auth_token": f"{base}/twilio/auth_token",
        "airtable_token": f"{base}/airtable/token",
        "airtable_base_id": f"{base}/airtable/base_id",
    }


def read_parameter(ssm: Any, name: str) -> str | None:
    """The parameter's value, None when it does not exist. Other errors propagate."""
    from botocore.exceptions import ClientError

    try:
        return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise


def env_first(*names: str) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)
