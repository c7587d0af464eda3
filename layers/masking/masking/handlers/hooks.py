"""The two places events move: the outbox batch to the hooks queue (``dispatch_outbox``,
called by ``airtable_sync`` before it writes Airtable) and the hooks queue to the consumers'
URLs (``handle_hooks_batch``, the ``hooks`` function). See ``masking.hooks``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from masking.core.observability import logger
from masking.hooks.delivery import Delivery
from masking.hooks.dispatch import dispatch
from masking.wiring import get_hook_deliverer, get_hook_queue, get_hook_store

processor = BatchProcessor(event_type=EventType.SQS)


def dispatch_outbox(event: dict[str, Any]) -> dict[str, str]:
    """Queues the deliveries of an outbox batch's events; message id -> why not, for the
    messages SQS should deliver again. Nothing to do without HOOKS_QUEUE_URL. Never raises."""
    try:
        queue = get_hook_queue()
        if queue is None:
            return {}
        messages = [(str(r.get("messageId", "")), str(r.get("body", ""))) for r in event.get("Records") or []]
        return dispatch(messages, get_hook_store(), queue)
    except Exception:
        logger.exception("hook dispatch failed")
        return {str(r.get("messageId", "")): "hook dispatch failed" for r in event.get("Records") or []}


def deliver_record(record: SQSRecord) -> None:
    delivery = Delivery.from_json(record.body)
    logger.set_correlation_id(delivery.event.id)
    get_hook_deliverer().deliver(delivery)


def handle_hooks_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Delivers each record; a record that raised (DynamoDB or SQS failing, an unreadable
    body) is reported failed, and after 5 receives lands in the hooks DLQ."""
    return dict(process_partial_response(event=event, record_handler=deliver_record, processor=processor, context=context))
