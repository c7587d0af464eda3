"""Outbound events for the operator's own automations (Zapier REST Hooks, a Catch Hook,
any webhook consumer). README "Hooks".

- ``events``: the event names, the event (id, name, time, data) and where each one is
  read from: the Audit Log records already on the outbox; samples.
- ``subscriptions``: subscribe (target URL, events; a signing secret), unsubscribe, list.
- ``dispatch``: an outbox batch -> one delivery per (event, subscription) on the hooks
  queue, run by the outbox consumer (``airtable_sync``) before it needs Airtable.
- ``delivery``: one delivery POSTed, HMAC-signed; 2xx done (marked, never sent again),
  429/5xx/no answer retried through the queue then set aside in the DLQ, 410 unsubscribes.
- ``settings``: the queue URLs, retry delays, timeout.

Stored by ``masking.store.hooks``; POSTed by ``masking.adapters.hook_http``; queued by
``masking.adapters.aws_queues.SqsHookQueue``; routes in ``masking.handlers.admin_hooks``.
"""
