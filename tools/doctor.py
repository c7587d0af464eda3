"""Read-only health check of a deployed stack: the drift ``tools.setup`` would fix, and more.

    python -m tools.doctor --stack-name masking-dev          # exit 1 on any error finding
    python -m tools.doctor --stack-name masking-dev --strict # warnings fail too

Finds numbers whose webhooks point elsewhere, numbers not in the Messaging Service, a
Messaging Service that does not defer to each number's webhook, numbers in DynamoDB the
Twilio account no longer has, fewer Ready pool numbers than the busiest provider's
leases, missing or unreadable secrets, Airtable schema drift and messages in the
dead-letter queues. The checks are ``masking.admin.doctor``'s (the scheduled run uses the same
ones); this command adds the Airtable schema check. It changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

# isort: off
import tools.stack_env  # noqa: F401  (puts the layer on sys.path before masking is imported)

# isort: on
from masking.adapters.twilio_gateway import TwilioGateway
from masking.admin.context import AdminContext
from masking.admin.doctor import (
    Finding,
    check_dead_letters,
    check_messaging_service,
    check_numbers,
    check_pool,
    check_secrets,
    check_twilio_credentials,
    errors,
)
from masking.core.settings import InventorySettings, RoutingSettings, TwilioSettings
from masking.store.admin import DynamoAdminStore
from tools.setup import Deps, fixable
from tools.stack_env import SetupError, env_first, read_stack, secret_names


def run_doctor(
    stack_name: str | None,
    outputs_json: str | None,
    deps: Deps | None = None,
    environment: str | None = None,
    airtable_api_url: str | None = None,
) -> list[Finding]:
    import boto3

    deps = deps or Deps()
    stack = read_stack(stack_name, outputs_json, deps.cloudformation)
    if environment:
        stack.parameters["Environment"] = environment
    ssm = deps.ssm or boto3.client("ssm")
    names = secret_names(stack.secrets_path)
    findings = check_secrets(ssm, names.values(), optional=(names["airtable_token"], names["airtable_base_id"]))
    unreadable = {f.subject for f in findings}

    def value(key: str) -> str:
        if names[key] in unreadable:
            return ""
        try:
            return str(ssm.get_parameter(Name=names[key], WithDecryption=True)["Parameter"]["Value"])
        except Exception:
            return ""

    store = DynamoAdminStore(stack.table_name, client=deps.dynamodb)
    ms_sid = stack.messaging_service_sid
    sid, token = value("twilio_account_sid"), value("twilio_auth_token")
    twilio: Any = None
    if sid and token:
        from twilio.rest import Client

        twilio = Client(sid, token, http_client=deps.twilio_http_client)
        findings += check_twilio_credentials(twilio)
    ctx = AdminContext(
        store=store,
        gateway=TwilioGateway(twilio, ms_sid) if twilio is not None else None,  # type: ignore[arg-type]
        routing=RoutingSettings(),
        inventory=InventorySettings(),
        twilio=TwilioSettings(messaging_service_sid=ms_sid),
    )
    if twilio is not None and not any(f.subject == "twilio" for f in findings):
        findings += check_numbers(ctx, twilio, stack.webhooks, ms_sid)
        findings += check_messaging_service(twilio, ms_sid)
    findings += check_pool(ctx)
    findings += check_airtable(value("airtable_token"), value("airtable_base_id"), deps, airtable_api_url)
    if stack.dead_letter_queues:
        findings += check_dead_letters(deps.sqs or boto3.client("sqs"), stack.dead_letter_queues)
    return findings


def check_airtable(token: str, base_id: str, deps: Deps, api_url: str | None) -> list[Finding]:
    if not token or not base_id:
        return []
    from tools.airtable_schema import check_schema

    if deps.airtable_api is not None:
        api = deps.airtable_api
    else:
        from functions.airtable_sync.airtable_mirror.client import build_paced_api

        api = build_paced_api(token, api_url or env_first("AIRTABLE_API_URL"))
    try:
        drift = check_schema(api.base(base_id))
    except Exception as error:  # 401/403/404 from Airtable
        return [Finding("airtable", base_id, f"Airtable refuses the token or base: {error}")]
    return [
        Finding("airtable", base_id, str(item), "error" if fixable(item) or item.problem in ("wrong type", "wrong link") else "warning")
        for item in drift
    ]


def main(argv: list[str] | None = None, deps: Deps | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.doctor", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stack-name", default=env_first("STACK_NAME"), help="the deployed stack (default: $STACK_NAME)")
    parser.add_argument("--outputs-json", help="stack Outputs as JSON instead of CloudFormation (local runner, tests)")
    parser.add_argument("--environment", help="override the stack's Environment parameter")
    parser.add_argument("--airtable-api-url", default=env_first("AIRTABLE_API_URL"), help="another Airtable endpoint (the local stand-in)")
    parser.add_argument("--strict", action="store_true", help="warnings fail too")
    args = parser.parse_args(argv)
    try:
        findings = run_doctor(args.stack_name, args.outputs_json, deps, args.environment, args.airtable_api_url)
    except SetupError as error:
        print(f"doctor: {error}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    failing = findings if args.strict else errors(findings)
    warnings = len(findings) - len(errors(findings))
    print(f"{len(errors(findings))} error(s), {warnings} warning(s)" if findings else "no findings: everything points at the stack")
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
