"""Policy checks over template.yaml (read with local/template.py, CloudFormation tags kept).

Each check is run once on the real template and once on a copy broken the way issue 11
found it, so a check that cannot fail does not pass silently.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from local.template import load_template

FUNCTION = "AWS::Serverless::Function"
# Lambda keeps 100 executions unreserved, or the whole quota below 100, and a new
# account's quota can be 10: any ReservedConcurrentExecutions fails the first deploy there.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
NEW_ACCOUNT_CONCURRENCY = 10
UNRESERVED_MINIMUM = min(100, NEW_ACCOUNT_CONCURRENCY)
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
VISIBILITY_FACTOR = 6
DEFAULT_FUNCTION_TIMEOUT = 3
DEFAULT_VISIBILITY_TIMEOUT = 30


def _template() -> dict[str, Any]:
    return copy.deepcopy(load_template())


def _resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == type_}


def _timeout(template: dict[str, Any], function: dict[str, Any]) -> int:
    glob = (template.get("Globals") or {}).get("Function") or {}
    return int(function["Properties"].get("Timeout", glob.get("Timeout", DEFAULT_FUNCTION_TIMEOUT)))


def _ref_name(value: Any) -> str | None:
    """The logical id a !Ref or !GetAtt points to."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def _sqs_consumers(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(function, queue) for every SQS trigger."""
    pairs = []
    for name, function in _resources(template, FUNCTION).items():
        for event in (function["Properties"].get("Events") or {}).values():
            if event.get("Type") == "SQS":
                queue = _ref_name(event["Properties"]["Queue"])
                assert queue, f"{name}: an SQS trigger on a queue outside the template"
                pairs.append((name, queue))
    return pairs


# ---------------------------------------------------------------- the checks


def alarms_without_action(template: dict[str, Any]) -> list[str]:
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    return [name for name, alarm in alarms.items() if not alarm["Properties"].get("AlarmActions")]


def alarms_not_to_owner(template: dict[str, Any]) -> list[str]:
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    return [
        name
        for name, alarm in alarms.items()
        if "OwnerAlertTopic" not in {_ref_name(a) for a in alarm["Properties"].get("AlarmActions") or []}
    ]


def functions_without_failure_alarm(template: dict[str, Any]) -> list[str]:
    """Every function has an alarm on its Errors and one on its Throttles (maybe the same)."""
    watched: dict[str, set[str]] = {}
    for alarm in _resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics") or [] if "MetricStat" in m]
        if "MetricName" in props:
            stats.append(props)
        for metric in stats:
            if metric.get("Namespace") != "AWS/Lambda":
                continue
            for dim in metric.get("Dimensions") or []:
                if dim["Name"] == "FunctionName" and _ref_name(dim["Value"]):
                    watched.setdefault(str(_ref_name(dim["Value"])), set()).add(metric["MetricName"])
    return [name for name in _resources(template, FUNCTION) if not {"Errors", "Throttles"} <= watched.get(name, set())]


def dlqs_without_alarm(template: dict[str, Any]) -> list[str]:
    dlqs = set()
    for queue in _resources(template, "AWS::SQS::Queue").values():
        target = (queue["Properties"].get("RedrivePolicy") or {}).get("deadLetterTargetArn")
        if target:
            dlqs.add(_ref_name(target))
    for function in _resources(template, FUNCTION).values():
        for event in (function["Properties"].get("Events") or {}).values():
            dead_letter = (event.get("Properties") or {}).get("DeadLetterConfig") or {}
            if "Arn" in dead_letter:
                dlqs.add(_ref_name(dead_letter["Arn"]))
    watched = set()
    for alarm in _resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == "AWS/SQS" and props.get("MetricName") == "ApproximateNumberOfMessagesVisible":
            for dim in props.get("Dimensions") or []:
                watched.add(_ref_name(dim["Value"]))
    return sorted(str(q) for q in dlqs - watched)


def short_visibility_timeouts(template: dict[str, Any]) -> list[str]:
    functions = _resources(template, FUNCTION)
    problems = []
    for function, queue in _sqs_consumers(template):
        visibility = int(template["Resources"][queue]["Properties"].get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT))
        timeout = _timeout(template, functions[function])
        if visibility < VISIBILITY_FACTOR * timeout:
            problems.append(f"{queue}: visibility {visibility} s < {VISIBILITY_FACTOR} x {function} timeout {timeout} s")
    return problems


def reservations_a_new_account_rejects(template: dict[str, Any]) -> list[str]:
    reserved = {
        name: int(function["Properties"]["ReservedConcurrentExecutions"])
        for name, function in _resources(template, FUNCTION).items()
        if "ReservedConcurrentExecutions" in function["Properties"]
    }
    if NEW_ACCOUNT_CONCURRENCY - sum(reserved.values()) >= UNRESERVED_MINIMUM:
        return []
    return [f"{name}: ReservedConcurrentExecutions {n}" for name, n in reserved.items()]


def sqs_consumers_without_dlq(template: dict[str, Any]) -> list[str]:
    return [
        f"{function} <- {queue}"
        for function, queue in _sqs_consumers(template)
        if not (template["Resources"][queue]["Properties"].get("RedrivePolicy") or {}).get("deadLetterTargetArn")
    ]


def sqs_triggers_without_concurrency_bound(template: dict[str, Any]) -> list[str]:
    """The outbox trigger bounds its pollers (Airtable's 5 requests/s per base)."""
    function = template["Resources"]["AirtableSyncFunction"]["Properties"]
    scaling = function["Events"]["Outbox"]["Properties"].get("ScalingConfig") or {}
    maximum = scaling.get("MaximumConcurrency")
    rate = float(function["Environment"]["Variables"]["AIRTABLE_REQUESTS_PER_SECOND"])
    if maximum is None or int(maximum) < 2 or int(maximum) * rate > 5:
        return [f"AirtableSyncFunction: MaximumConcurrency {maximum} x {rate} req/s vs Airtable's 5 req/s"]
    return []


def functions_without_retained_logs(template: dict[str, Any]) -> list[str]:
    retained = set()
    for group in _resources(template, "AWS::Logs::LogGroup").values():
        props = group["Properties"]
        name = props.get("LogGroupName")
        if isinstance(name, dict) and "Fn::Sub" in name and props.get("RetentionInDays"):
            text = name["Fn::Sub"]
            if isinstance(text, str) and text.startswith("/aws/lambda/${") and text.endswith("}"):
                retained.add(text[len("/aws/lambda/${") : -1])
    return [name for name in _resources(template, FUNCTION) if name not in retained]


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Inline IAM statements: functions' Policies and any AWS::IAM::Role/Policy.
    (A KMS key policy's Resource is always '*', meaning the key itself: not checked here.)"""
    found = []
    for name, function in _resources(template, FUNCTION).items():
        for policy in function["Properties"].get("Policies") or []:
            if isinstance(policy, dict) and "Statement" in policy:
                found += [(name, s) for s in policy["Statement"]]
    for type_ in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, resource in _resources(template, type_).items():
            props = resource["Properties"]
            documents = [p["PolicyDocument"] for p in props.get("Policies") or []]
            if "PolicyDocument" in props:
                documents.append(props["PolicyDocument"])
            found += [(name, s) for doc in documents for s in doc["Statement"]]
    return found


def wildcard_statements(template: dict[str, Any]) -> list[str]:
    problems = []
    for owner, statement in _statements(template):
        for key in ("Action", "Resource"):
            values = statement.get(key)
            values = values if isinstance(values, list) else [values]
            if any(isinstance(v, str) and "*" in v for v in values):
                problems.append(f"{owner}.{statement.get('Sid', '?')}: '*' in {key}")
    return problems


def functions_with_sam_policy_templates(template: dict[str, Any]) -> list[str]:
    """SAM policy templates (DynamoDBCrudPolicy...) and managed policies hide their actions."""
    return [
        name
        for name, function in _resources(template, FUNCTION).items()
        for policy in function["Properties"].get("Policies") or []
        if not (isinstance(policy, dict) and "Statement" in policy)
    ]


CHECKS = [
    alarms_without_action,
    alarms_not_to_owner,
    functions_without_failure_alarm,
    dlqs_without_alarm,
    short_visibility_timeouts,
    reservations_a_new_account_rejects,
    sqs_consumers_without_dlq,
    sqs_triggers_without_concurrency_bound,
    functions_without_retained_logs,
    wildcard_statements,
    functions_with_sam_policy_templates,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_template_passes(check: Any) -> None:
    assert check(_template()) == []


# ---------------------------------------------------------------- the checks catch what issue 11 found


def _break(edit: Any) -> dict[str, Any]:
    template = _template()
    edit(template["Resources"])
    return template


def test_an_alarm_without_action_is_caught() -> None:
    template = _break(lambda r: r["OutboxDlqAlarm"]["Properties"].pop("AlarmActions"))
    assert alarms_without_action(template) == ["OutboxDlqAlarm"]
    assert "OutboxDlqAlarm" in alarms_not_to_owner(template)


def test_a_function_without_failure_alarm_is_caught() -> None:
    assert functions_without_failure_alarm(_break(lambda r: r.pop("ResendFailuresAlarm"))) == ["ResendFunction"]


def test_a_dlq_without_alarm_is_caught() -> None:
    assert dlqs_without_alarm(_break(lambda r: r.pop("ScheduleDlqAlarm"))) == ["ScheduleDeadLetterQueue"]
    assert dlqs_without_alarm(_break(lambda r: r.pop("RetryDlqAlarm"))) == ["RetryDeadLetterQueue"]


def test_the_old_visibility_timeouts_are_caught() -> None:
    def old(r: dict[str, Any]) -> None:
        r["OutboxQueue"]["Properties"]["VisibilityTimeout"] = 180
        r["RetryQueue"]["Properties"]["VisibilityTimeout"] = 60

    assert [p.split(":")[0] for p in short_visibility_timeouts(_break(old))] == ["RetryQueue", "OutboxQueue"]


def test_the_old_reserved_concurrency_is_caught() -> None:
    template = _break(lambda r: r["AirtableSyncFunction"]["Properties"].update(ReservedConcurrentExecutions=1))
    assert reservations_a_new_account_rejects(template) == ["AirtableSyncFunction: ReservedConcurrentExecutions 1"]


def test_an_sqs_consumer_without_dlq_is_caught() -> None:
    template = _break(lambda r: r["RetryQueue"]["Properties"].pop("RedrivePolicy"))
    assert sqs_consumers_without_dlq(template) == ["ResendFunction <- RetryQueue"]


def test_an_unbounded_or_too_fast_outbox_trigger_is_caught() -> None:
    unbounded = _break(lambda r: r["AirtableSyncFunction"]["Properties"]["Events"]["Outbox"]["Properties"].pop("ScalingConfig"))
    assert sqs_triggers_without_concurrency_bound(unbounded)

    def faster(r: dict[str, Any]) -> None:
        r["AirtableSyncFunction"]["Properties"]["Environment"]["Variables"]["AIRTABLE_REQUESTS_PER_SECOND"] = "5"

    assert sqs_triggers_without_concurrency_bound(_break(faster))


def test_a_function_without_log_group_is_caught() -> None:
    assert functions_without_retained_logs(_break(lambda r: r.pop("CallConnectLogGroup"))) == ["CallConnectFunction"]


def test_a_wildcard_statement_is_caught() -> None:
    def widen(r: dict[str, Any]) -> None:
        r["ResendFunction"]["Properties"]["Policies"][0]["Statement"].append(
            {"Sid": "TooWide", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"}
        )

    assert wildcard_statements(_break(widen)) == ["ResendFunction.TooWide: '*' in Action", "ResendFunction.TooWide: '*' in Resource"]


# ---------------------------------------------------------------- fresh account, several environments, owner alerts


def test_names_that_would_collide_between_environments_come_from_the_stack_or_cloudformation() -> None:
    resources = _template()["Resources"]
    assert resources["SharedLayer"]["Properties"]["LayerName"] == {"Fn::Sub": "${AWS::StackName}-shared"}
    assert resources["MaskingApi"]["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-api"}
    assert resources["AdminUsagePlan"]["Properties"]["UsagePlanName"] == {"Fn::Sub": "${AWS::StackName}-admin"}
    assert "Name" not in resources["AdminApiKeySecret"]["Properties"]
    assert "DashboardName" not in resources["PoolDashboard"]["Properties"]
    schedules = [
        event["Properties"]
        for function in _resources(_template(), FUNCTION).values()
        for event in (function["Properties"].get("Events") or {}).values()
        if event["Type"] == "ScheduleV2"
    ]
    assert len(schedules) >= 3
    assert all(s.get("OmitName") is True and "Name" not in s for s in schedules)
    assert all(_ref_name(s["DeadLetterConfig"]["Arn"]) == "ScheduleDeadLetterQueue" for s in schedules)


def test_owner_topic_uses_a_customer_managed_key_cloudwatch_may_use() -> None:
    resources = _template()["Resources"]
    topic = resources["OwnerAlertTopic"]["Properties"]
    assert _ref_name(topic["KmsMasterKeyId"]) == "OwnerAlertKey"
    key = resources["OwnerAlertKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = key["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"]
    assert cloudwatch and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])
    root = [s for s in statements if "AWS" in s["Principal"]]
    assert root and ":root" in root[0]["Principal"]["AWS"]["Fn::Sub"]
    publishers = [
        name
        for name, function in _resources(_template(), FUNCTION).items()
        if any(st.get("Action") == "sns:Publish" for st in function["Properties"]["Policies"][0]["Statement"])
    ]
    assert publishers
    for name in publishers:
        statements = resources[name]["Properties"]["Policies"][0]["Statement"]
        kms = [st for st in statements if _ref_name(st.get("Resource")) == "OwnerAlertKey"]
        assert kms and {"kms:GenerateDataKey", "kms:Decrypt"} <= set(kms[0]["Action"]), name


def test_hygiene_of_issue_11() -> None:
    template = _template()
    resources = template["Resources"]
    assert resources["Table"]["Properties"]["DeletionProtectionEnabled"] is True
    assert resources["MaskingApi"]["Properties"]["EndpointConfiguration"] == {"Type": "REGIONAL"}
    for queue in ("OutboxDeadLetterQueue", "RetryDeadLetterQueue", "ScheduleDeadLetterQueue"):
        assert template["Outputs"][f"{queue}Arn"]["Value"] == {"Fn::GetAtt": [queue, "Arn"]}
    body = resources["PoolDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert '"value": ${PoolUtilizationThreshold}' in body and '"value": 87' not in body
    assert "ProdHasOwnerAlertEmail" in template["Rules"]


def test_samconfig_environments_take_the_region_from_the_profile_and_set_their_own_parameters() -> None:
    import tomllib

    from tests.support import ROOT

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    parameters = set(_template()["Parameters"])
    stacks = set()
    for env, expected in (("default", "dev"), ("staging", "staging"), ("prod", "prod")):
        deploy = config[env]["deploy"]["parameters"]
        overrides = deploy["parameter_overrides"]
        assert overrides["Environment"] == expected
        assert {"OwnerAlertEmail", "VerificationPhone", "MessagingServiceSid", "PreferredAreaCodes"} <= set(overrides), env
        assert set(overrides) <= parameters, env
        assert "region" not in deploy and "region" not in config[env]["global"]["parameters"], env
        stacks.add(config[env]["global"]["parameters"]["stack_name"])
    assert len(stacks) == 3


def test_the_hooks_function_reaches_only_the_hooks_items() -> None:
    """Review finding 2: HooksFunction's table access is bound to the hooks' partition keys
    (masking/store/hooks.py), not the whole table."""
    from fnmatch import fnmatchcase

    from masking.store.hooks import HOOKS_PK, _sent_key

    table_statements = [s for owner, s in _statements(_template()) if owner == "HooksFunction" and _ref_name(s["Resource"]) == "Table"]
    assert table_statements
    for statement in table_statements:
        keys = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        assert all(any(fnmatchcase(pk, key) for key in keys) for pk in (HOOKS_PK, _sent_key("HKabc", "EV1")["pk"]["S"]))
        assert not any(fnmatchcase(pk, key) for key in keys for pk in ("CLIENT#1", "SESSION#1", "HOOKSX", "OUTBOXSPILL"))


def test_the_hooks_dlq_redrive_names_its_destination() -> None:
    """Review finding 3: the hooks DLQ's messages were sent there directly (no source
    queue), so its redrive needs --destination-arn, an Output of the stack."""
    outputs = _template()["Outputs"]
    assert _ref_name(outputs["HooksQueueArn"]["Value"]) == "HooksQueue"
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert '--source-arn "$(out HooksDeadLetterQueueArn)" --destination-arn "$(out HooksQueueArn)"' in readme
