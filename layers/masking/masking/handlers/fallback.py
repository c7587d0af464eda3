"""Replays SMS webhooks that Twilio sent to the fallback URL (``fallback_replay``).

Every number's ``SmsFallbackUrl`` is ``<base>/twilio/sms/fallback``. Twilio requests it
"if Twilio is unable to retrieve or execute TwiML from your web server", adding the
``ErrorCode`` and ``ErrorUrl`` parameters
(https://www.twilio.com/docs/usage/security/availability-reliability). API Gateway puts
that request on the fallback queue as it came, with no Lambda in between (template.yaml,
"nothing lost: storage"): the raw form body as the SQS message body, and the
``X-Twilio-Signature``, ``Host``, stage path and resource path as message attributes. This
consumer checks the signature and routes the message through the same ``SmsRouter``.

- Signature: Twilio signs "the exact URL your application supplied"
  (https://www.twilio.com/docs/usage/webhooks/webhooks-security), so a fallback request
  should be signed for the fallback URL, with ErrorCode/ErrorUrl among the parameters. No
  Twilio page says so for fallback requests specifically (UNCONFIRMED; twilio-node PR #160
  assumed it: https://github.com/twilio/twilio-node/pull/160), so the signature is
  checked against the fallback URL first, then against the primary URL; the metric
  ``FallbackSignedForPrimaryUrl`` counts the second case.
- Idempotent on MessageSid: the router's claim. A message the primary webhook finished is
  a duplicate (nothing sent twice); one the primary claimed and then died on is taken over
  once the claim is stale (``STALE_CLAIM_SECONDS``); a fresh one raises
  ``ClaimInProgress`` and the record is retried after the queue's visibility timeout. The
  primary writes nothing after a successful send (``masking.messaging.parts``): its claim
  holds the planned parts, so "finished" means every part was named by a status callback;
  otherwise the stale claim's planned parts are delivered, each looked up in Twilio first
  (``ForwardWorker.take_up``). The replay itself records the outcome after its send (the
  request carries ``ErrorUrl``), so an SQS redelivery of it is a duplicate at once.
- A record that fails for another reason is reported in ``batchItemFailures``: SQS
  delivers it again, and after ``maxReceiveCount`` it lands in the DLQ (alarmed).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from masking.core.observability import count, logger
from masking.handlers.sms import SMS_FALLBACK_PATH, handle_sms_webhook

if TYPE_CHECKING:
    from masking.wiring import SmsServices

FALLBACK_SUFFIX = "/fallback"


def _attribute(record: dict[str, Any], name: str) -> str:
    attributes = record.get("messageAttributes") or {}
    value = attributes.get(name) or attributes.get(name[0].lower() + name[1:]) or {}
    return str(value.get("stringValue") or value.get("StringValue") or "")


def stored_event(record: dict[str, Any], primary: bool = False) -> dict[str, Any]:
    """The API Gateway event of the request the fallback route stored (for the fallback
    URL, or with ``primary`` for the webhook URL it failed on)."""
    stage_path = _attribute(record, "Path") or SMS_FALLBACK_PATH
    resource_path = _attribute(record, "ResourcePath") or SMS_FALLBACK_PATH
    if primary:
        stage_path = stage_path.removesuffix(FALLBACK_SUFFIX)
        resource_path = resource_path.removesuffix(FALLBACK_SUFFIX)
    host = _attribute(record, "Host")
    body = record.get("body") or ""
    encoded = _attribute(record, "BodyEncoding") == "base64"
    return {
        "resource": resource_path,
        "path": resource_path,
        "httpMethod": "POST",
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "Host": host,
            "X-Twilio-Signature": _attribute(record, "TwilioSignature"),
        },
        "requestContext": {"domainName": host, "path": stage_path, "resourcePath": resource_path},
        "body": base64.b64decode(body).decode("utf-8") if encoded else body,
        "isBase64Encoded": False,
    }


def replay_record(record: dict[str, Any], services: SmsServices) -> str:
    """Routes one stored request; returns what happened (raises to have it retried)."""
    count("FallbackRequestsReplayed")
    for primary in (False, True):
        answer = handle_sms_webhook(stored_event(record, primary), services)
        status = int(answer.get("statusCode", 500))
        if status == 403:
            continue  # not signed for this URL: try the other one
        if primary:
            count("FallbackSignedForPrimaryUrl")
        if status >= 500:
            raise RuntimeError("replay failed; SQS will deliver the stored request again")
        return "replayed" if status == 200 else f"rejected {status}"
    count("FallbackInvalidSignature")
    logger.warning("stored fallback request has no valid Twilio signature for either URL; dropped")
    return "invalid signature"


def handle_fallback_records(event: dict[str, Any], services: SmsServices) -> dict[str, Any]:
    """SQS batch -> ``{"batchItemFailures": [...]}`` (ReportBatchItemFailures)."""
    failures = []
    for record in event.get("Records") or []:
        try:
            replay_record(record, services)
        except Exception:
            logger.exception("fallback replay failed; the record will be delivered again")
            failures.append({"itemIdentifier": record.get("messageId", "")})
    return {"batchItemFailures": failures}
