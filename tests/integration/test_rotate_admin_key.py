"""tools.rotate_admin_key on moto: the secret is the source of truth, API Gateway follows it.

Before it, the API Gateway key's value came from a deploy-time {{resolve:secretsmanager}}:
a rotated secret left the gateway on the old value (Zapier 403 at the function or at the
gateway). These tests check both sides agree after ``sync`` and after ``rotate``, and that
during the grace period both the old and the new key pass API Gateway.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from local.backends import REGION, fake_credentials_env
from tools.rotate_admin_key import AdminKeyTarget, plan_keys, rotate, sync, target_from_stack


@pytest.fixture
def clients() -> Iterator[dict[str, Any]]:
    saved = dict(os.environ)
    os.environ.update(fake_credentials_env())
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield {name: boto3.client(name, region_name=REGION) for name in ("secretsmanager", "apigateway")}
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def target(clients: dict[str, Any]) -> AdminKeyTarget:
    secret = clients["secretsmanager"].create_secret(Name="masking-dev-admin", SecretString="first-value-" + "x" * 28)
    plan = clients["apigateway"].create_usage_plan(name="masking-dev-admin")
    return AdminKeyTarget(secret_id=secret["ARN"], usage_plan_id=plan["id"])


def _secret(clients: dict[str, Any], target: AdminKeyTarget) -> str:
    return clients["secretsmanager"].get_secret_value(SecretId=target.secret_id)["SecretString"]


def test_sync_puts_the_secret_value_in_api_gateway_once(clients: dict[str, Any], target: AdminKeyTarget) -> None:
    assert plan_keys(clients["apigateway"], target.usage_plan_id) == []

    assert sync(clients["secretsmanager"], clients["apigateway"], target) == {"added": 1, "retired": 0}
    [key] = plan_keys(clients["apigateway"], target.usage_plan_id)
    assert key.value == _secret(clients, target)

    assert sync(clients["secretsmanager"], clients["apigateway"], target) == {"added": 0, "retired": 0}
    assert [k.key_id for k in plan_keys(clients["apigateway"], target.usage_plan_id)] == [key.key_id]


def test_sync_after_a_manual_secret_change_replaces_the_gateway_key(clients: dict[str, Any], target: AdminKeyTarget) -> None:
    sync(clients["secretsmanager"], clients["apigateway"], target)
    clients["secretsmanager"].put_secret_value(SecretId=target.secret_id, SecretString="changed-by-hand-" + "y" * 24)

    assert sync(clients["secretsmanager"], clients["apigateway"], target) == {"added": 1, "retired": 1}
    [key] = plan_keys(clients["apigateway"], target.usage_plan_id)
    assert key.value == "changed-by-hand-" + "y" * 24


def test_rotate_changes_both_sides_and_keeps_both_keys_during_the_grace(clients: dict[str, Any], target: AdminKeyTarget) -> None:
    sync(clients["secretsmanager"], clients["apigateway"], target)
    old_value = _secret(clients, target)
    seen_during_grace: list[set[str]] = []

    def wait(seconds: float) -> None:
        assert seconds == 330
        seen_during_grace.append({k.value for k in plan_keys(clients["apigateway"], target.usage_plan_id)})

    result = rotate(clients["secretsmanager"], clients["apigateway"], target, wait=wait, say=lambda _: None)

    new_value = _secret(clients, target)
    assert new_value != old_value and len(new_value) == 40 and new_value.isalnum()
    assert result == {"added": 1, "retired": 1}
    assert seen_during_grace == [{old_value, new_value}]  # the secret had already changed then
    [key] = plan_keys(clients["apigateway"], target.usage_plan_id)
    assert key.value == new_value
    assert all(k["id"] != key.key_id or k["value"] == new_value for k in clients["apigateway"].get_api_keys(includeValues=True)["items"])
    assert old_value not in {k["value"] for k in clients["apigateway"].get_api_keys(includeValues=True)["items"]}


class _Stacks:
    """describe_stacks as CloudFormation answers it (moto's CloudFormation needs extras we skip)."""

    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        outputs = [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]
        return {"Stacks": [{"StackName": StackName, "Outputs": outputs}]}


def test_target_comes_from_the_stack_outputs() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:admin-AbCdEf"
    stacks = _Stacks({"AdminApiKeySecretArn": arn, "AdminUsagePlanId": "plan123", "ApiUrl": "https://x"})

    assert target_from_stack(stacks, "masking-staging") == AdminKeyTarget(arn, "plan123")
    with pytest.raises(SystemExit, match="AdminUsagePlanId"):
        target_from_stack(_Stacks({"AdminApiKeySecretArn": arn}), "masking-old")


def test_the_template_leaves_the_gateway_key_to_the_tool() -> None:
    from local.template import load_template

    resources = load_template()["Resources"]
    assert not [name for name, spec in resources.items() if spec["Type"] in ("AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlanKey")]
    outputs = load_template()["Outputs"]
    assert outputs["AdminUsagePlanId"]["Value"] == {"Ref": "AdminUsagePlan"}
    assert outputs["AdminApiKeySecretArn"]["Value"] == {"Ref": "AdminApiKeySecret"}
