"""Rotate the admin API key so that it really takes effect, or make API Gateway match it.

    python -m tools.rotate_admin_key --stack-name masking-dev --region us-east-1 sync
    python -m tools.rotate_admin_key --stack-name masking-dev --region us-east-1 rotate

One source of truth: the stack's Secrets Manager secret (Output ``AdminApiKeySecretArn``).
The admin function compares ``x-api-key`` with it. API Gateway checks its own API keys
first (``Auth.ApiKeyRequired``), so the usage plan (Output ``AdminUsagePlanId``) must hold
a key with the same value. The template deliberately has no ``AWS::ApiGateway::ApiKey``:
a ``{{resolve:secretsmanager}}`` value is read only when CloudFormation updates the key,
which an unchanged template never does, so after a rotation one side answered 403.

``sync``   the plan ends up with exactly one key, whose value is the secret's current value
           (run it once after the first deploy, and after restoring the secret by hand).
``rotate`` a new random value: its API Gateway key joins the plan first, then the secret
           changes, then, after ``--grace-seconds`` (the function caches the secret for
           5 minutes), the old keys leave the plan and are deleted.

The key value is never printed; read it with
``aws secretsmanager get-secret-value --secret-id <AdminApiKeySecretArn> --region ...``.
"""

from __future__ import annotations

import argparse
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KEY_LENGTH = 40
# admin_api.API_KEY_MAX_AGE_SECONDS (300) + a margin: by then every warm container has
# re-read the secret, so the old API Gateway key can go.
DEFAULT_GRACE_SECONDS = 330


@dataclass(frozen=True)
class AdminKeyTarget:
    secret_id: str
    usage_plan_id: str


@dataclass(frozen=True)
class GatewayKey:
    key_id: str
    name: str
    value: str


def new_key_value(length: int = KEY_LENGTH) -> str:
    """Letters and digits only: valid for API Gateway (>= 20 chars) and a header."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def target_from_stack(cloudformation: Any, stack_name: str) -> AdminKeyTarget:
    [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [k for k in ("AdminApiKeySecretArn", "AdminUsagePlanId") if k not in outputs]
    if missing:
        raise SystemExit(f"stack {stack_name} has no output {', '.join(missing)}: deploy the current template first")
    return AdminKeyTarget(secret_id=outputs["AdminApiKeySecretArn"], usage_plan_id=outputs["AdminUsagePlanId"])


def plan_keys(apigateway: Any, usage_plan_id: str) -> list[GatewayKey]:
    keys = []
    for item in apigateway.get_usage_plan_keys(usagePlanId=usage_plan_id, limit=500).get("items", []):
        key = apigateway.get_api_key(apiKey=item["id"], includeValue=True)
        keys.append(GatewayKey(key_id=key["id"], name=key.get("name", ""), value=key.get("value", "")))
    return keys


def _add_key(apigateway: Any, usage_plan_id: str, value: str) -> GatewayKey:
    name = f"admin-{usage_plan_id}-{int(time.time())}"
    key = apigateway.create_api_key(
        name=name, description="Admin API key; value = the stack's AdminApiKeySecret", enabled=True, value=value
    )
    apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=key["id"], keyType="API_KEY")
    return GatewayKey(key_id=key["id"], name=name, value=value)


def _retire(apigateway: Any, usage_plan_id: str, keys: list[GatewayKey]) -> None:
    for key in keys:
        apigateway.delete_usage_plan_key(usagePlanId=usage_plan_id, keyId=key.key_id)
        apigateway.delete_api_key(apiKey=key.key_id)


def sync(secretsmanager: Any, apigateway: Any, target: AdminKeyTarget) -> dict[str, int]:
    """Exactly one key in the plan, equal to the secret. Changes nothing when already so."""
    value = secretsmanager.get_secret_value(SecretId=target.secret_id)["SecretString"]
    keys = plan_keys(apigateway, target.usage_plan_id)
    matching = [k for k in keys if k.value == value]
    added = 0
    if not matching:
        matching = [_add_key(apigateway, target.usage_plan_id, value)]
        added = 1
    stale = [k for k in keys if k.key_id not in {m.key_id for m in matching[:1]}]
    _retire(apigateway, target.usage_plan_id, stale)
    return {"added": added, "retired": len(stale)}


def rotate(
    secretsmanager: Any,
    apigateway: Any,
    target: AdminKeyTarget,
    *,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    wait: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = print,
) -> dict[str, int]:
    """New value: gateway key first, then the secret, then (after the grace) the old keys go."""
    old = plan_keys(apigateway, target.usage_plan_id)
    value = new_key_value()
    _add_key(apigateway, target.usage_plan_id, value)
    secretsmanager.put_secret_value(SecretId=target.secret_id, SecretString=value)
    say(
        "The new key is in API Gateway and in the secret. Put it in Zapier now "
        f"(aws secretsmanager get-secret-value --secret-id {target.secret_id} --query SecretString --output text). "
        f"The old key is removed from API Gateway in {grace_seconds:.0f} s."
    )
    wait(grace_seconds)
    _retire(apigateway, target.usage_plan_id, old)
    say(f"Retired {len(old)} old key(s).")
    return {"added": 1, "retired": len(old)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.rotate_admin_key", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["sync", "rotate"])
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--region", help="the stack's region (default: your AWS profile's)")
    parser.add_argument("--profile")
    parser.add_argument("--grace-seconds", type=float, default=DEFAULT_GRACE_SECONDS)
    args = parser.parse_args(argv)

    import boto3

    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    target = target_from_stack(session.client("cloudformation"), args.stack_name)
    sm, apigw = session.client("secretsmanager"), session.client("apigateway")
    if args.command == "sync":
        result = sync(sm, apigw, target)
        print(f"API Gateway matches the secret: {result['added']} key added, {result['retired']} retired.")
    else:
        rotate(sm, apigw, target, grace_seconds=args.grace_seconds)


if __name__ == "__main__":
    main()
