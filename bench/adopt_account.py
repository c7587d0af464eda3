"""(g) Adopting an existing account with ``tools.setup``: the first operator's 55 numbers.

On the embedded backends (moto, the Twilio sandbox): 34 reserved numbers (their sitters
given in a roles CSV), 20 pool and 1 standby number inside a Twilio Proxy Service, a
Messaging Service, two office lines nobody listed. Three runs: dry run, ``--apply``, and
``--apply`` again. Printed per run: Twilio requests (and how many were writes), DynamoDB
requests, rows with a change, and the wall time.

Targets: the second ``--apply`` changes nothing and writes nothing at Twilio.

    python -m bench.adopt_account
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import Target, ensure_paths, print_figures

ensure_paths()

ACCOUNT_SID = "AC" + "1" * 32
PROXY = "KS" + "a" * 32
MESSAGING = "MG" + "b" * 32
API = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"

TARGETS: dict[str, Target] = {
    "second_apply_rows_changed": ("==", 0),
    "second_apply_twilio_writes": ("==", 0),
}
SUMMARY = ["apply_twilio_requests", "apply_dynamodb_requests", "apply_seconds", "second_apply_rows_changed", "second_apply_twilio_writes"]


def main() -> dict[str, Any]:
    from local.backends import EmbeddedAws
    from masking.adapters.twilio_admin_sandbox import AdminSandboxHttpClient
    from tools import setup

    saved = dict(os.environ)
    aws = EmbeddedAws()
    aws.start()
    try:
        import boto3

        ssm = boto3.client("ssm")
        for name in ("/masking/local/airtable/token", "/masking/local/airtable/base_id"):
            ssm.delete_parameter(Name=name)
        sandbox = AdminSandboxHttpClient(credentials=(ACCOUNT_SID, aws.auth_token))
        reserved = [f"+1720555{1000 + i}" for i in range(34)]
        pool = [f"+1720555{2000 + i}" for i in range(20)]
        standby = ["+17205553000"]
        sids = [
            sandbox.own_number(n, sms_url="https://proxy.example/sms", voice_url="https://proxy.example/voice")
            for n in reserved + pool + standby
        ]
        for office in ("+13035559000", "+13035559001"):
            sandbox.own_number(office, sms_url="https://office.example/sms")
        sandbox.add_proxy_service(PROXY, sids)
        sandbox.add_messaging_service(MESSAGING)
        workdir = Path(tempfile.mkdtemp())
        roles = workdir / "roles.csv"
        roles.write_text(
            "number,role,provider_id,provider_name,provider_phone\n"
            + "".join(f"{n},reserved,,Sitter {i},+1303555{1000 + i}\n" for i, n in enumerate(reserved))
        )
        outputs = workdir / "outputs.json"
        outputs.write_text(
            json.dumps(
                {
                    "ApiUrl": API,
                    "TableName": aws.env["TABLE_NAME"],
                    "OutboxQueueUrl": aws.env["OUTBOX_QUEUE_URL"],
                    "Parameters": {"Environment": "local", "MessagingServiceSid": MESSAGING},
                }
            )
        )
        dynamodb = boto3.client("dynamodb")
        dynamo_calls = [0]
        dynamodb.meta.events.register("before-call.dynamodb", lambda **_: dynamo_calls.__setitem__(0, dynamo_calls[0] + 1))
        deps = setup.Deps(twilio_http_client=sandbox, dynamodb=dynamodb)
        base = [
            "--outputs-json",
            str(outputs),
            "--roles",
            str(roles),
            "--pool",
            ",".join(pool),
            "--standby",
            standby[0],
            "--from-proxy",
            PROXY,
        ]
        figures: dict[str, Any] = {}
        for label, extra in (("dry_run", []), ("apply", ["--apply"]), ("second_apply", ["--apply"])):
            before, dynamo_calls[0] = len(sandbox.requests), 0
            started = time.perf_counter()
            report = setup.run_setup(setup.parse_args(base + extra), deps)
            elapsed = time.perf_counter() - started
            made = sandbox.requests[before:]
            figures[f"{label}_twilio_requests"] = len(made)
            figures[f"{label}_twilio_writes"] = sum(1 for r in made if r.method.upper() != "GET")
            figures[f"{label}_dynamodb_requests"] = dynamo_calls[0]
            figures[f"{label}_rows_changed"] = sum(1 for r in report.rows if r.changes)
            figures[f"{label}_seconds"] = round(elapsed, 2)
            assert report.failed == 0, report.render()
        figures["numbers_adopted"] = len(
            dynamodb.query(
                TableName=aws.env["TABLE_NAME"], KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "INVENTORY"}}
            )["Items"]
        )
    finally:
        aws.stop()
        os.environ.clear()
        os.environ.update(saved)
    print_figures("(g) adopting 55 numbers with tools.setup (moto + sandbox)", figures, TARGETS)
    return figures


if __name__ == "__main__":
    main()
