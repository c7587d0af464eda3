"""tools.setup's building blocks without AWS or Twilio: the stack's URLs, webhook drift,
roles from flags, the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from masking.adapters.twilio_numbers_admin import NumberWebhooks
from masking.admin.doctor import Finding, errors
from masking.core.models import Lifecycle
from tools.setup import Options, Report, Row, roles_from_flags
from tools.stack_env import SetupError, Stack, stack_from_describe

API = "https://abc.execute-api.us-east-1.amazonaws.com/prod"


def test_the_stack_gives_the_urls_every_number_must_point_at() -> None:
    stack = stack_from_describe(
        {
            "Stacks": [
                {
                    "StackName": "masking-prod",
                    "Parameters": [{"ParameterKey": "Environment", "ParameterValue": "prod"}],
                    "Outputs": [
                        {"OutputKey": "ApiUrl", "OutputValue": API},
                        {"OutputKey": "TableName", "OutputValue": "masking-prod-Table"},
                        {"OutputKey": "OutboxDeadLetterQueueUrl", "OutputValue": "https://sqs/outbox-dlq"},
                        {"OutputKey": "RetryDeadLetterQueueUrl", "OutputValue": "https://sqs/retry-dlq"},
                        {"OutputKey": "OutboxQueueUrl", "OutputValue": "https://sqs/outbox"},
                    ],
                }
            ]
        }
    )

    assert stack.secrets_path == "/masking/prod"
    assert stack.webhooks == NumberWebhooks(f"{API}/twilio/sms", f"{API}/twilio/voice", "", "")
    assert stack.dead_letter_queues == {
        "OutboxDeadLetterQueueUrl": "https://sqs/outbox-dlq",
        "RetryDeadLetterQueueUrl": "https://sqs/retry-dlq",
    }
    assert stack.messaging_service_sid == ""


def test_fallback_urls_are_wanted_only_when_the_stack_has_them() -> None:
    outputs = {"ApiUrl": API, "TwilioSmsFallbackUrl": f"{API}/fb/sms", "TwilioVoiceFallbackUrl": f"{API}/fb/voice"}
    wanted = Stack(outputs).webhooks
    on_number = NumberWebhooks(f"{API}/twilio/sms", f"{API}/twilio/voice", "", "https://old/voice-fallback")

    assert on_number.differences(wanted) == ["sms_fallback_url", "voice_fallback_url"]
    assert on_number.differences(Stack({"ApiUrl": API}).webhooks) == []  # no fallback Outputs: any fallback is fine


def test_a_stack_without_api_url_is_a_setup_error() -> None:
    with pytest.raises(SetupError, match="no ApiUrl"):
        _ = Stack({"TableName": "t"}).webhooks


def test_roles_come_from_the_csv_and_the_pool_and_standby_flags(tmp_path: Path) -> None:
    roles = tmp_path / "roles.csv"
    roles.write_text("number,role,provider_id,provider_name,provider_phone\n(720) 555-1000,Reserved,PR1,,\n720.555.3000,standby,,,\n")

    found = roles_from_flags(Options(roles_csv=str(roles), pool=["+17205552000, +17205552001", "+17205552002"]))

    assert found["+17205551000"].lifecycle == Lifecycle.RESERVED and found["+17205551000"].provider_id == "PR1"
    assert found["+17205553000"].lifecycle == Lifecycle.STANDBY
    assert [n for n, r in found.items() if r.lifecycle == Lifecycle.POOL] == ["+17205552000", "+17205552001", "+17205552002"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("+17205551000,reserved,,,", "needs provider_id"),
        ("+17205551000,vip,,,", "need a valid number and a role"),
        ("12,pool,,,", "need a valid number and a role"),
    ],
)
def test_a_bad_roles_line_names_the_line(tmp_path: Path, line: str, problem: str) -> None:
    roles = tmp_path / "roles.csv"
    roles.write_text(f"number,role,provider_id,provider_name,provider_phone\n{line}\n")

    with pytest.raises(SetupError, match=f"roles.csv:2: .*{problem}"):
        roles_from_flags(Options(roles_csv=str(roles)))


def test_the_report_says_nothing_to_change_only_when_nothing_changes() -> None:
    quiet = Report(apply=True, rows=[Row("+17205551000", "Pool"), Row("+13035559000", "unknown", note="unknown: left alone")])
    assert quiet.render().endswith("nothing to change")

    busy = Report(apply=False, rows=[Row("+17205551000", "Pool", changes=["register"])])
    text = busy.render()
    assert "1 item(s) to change" in text and "run again with --apply" in text


def test_only_error_findings_fail_the_doctor() -> None:
    findings = [Finding("opt_out", "MG1", "STOP applies to the service", "warning"), Finding("webhooks", "+17205551000", "elsewhere")]
    assert errors(findings) == [findings[1]]
    assert str(findings[1]).startswith("ERROR   webhooks: +17205551000")
