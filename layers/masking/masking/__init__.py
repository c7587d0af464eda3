"""Shared package of the masking service (the Lambda layer). Read it by capability:

- ``core``: the domain's own words. ``models`` (records), ``records`` (the base the
  dataclasses share: repr and eq, less to compile), ``call_records`` (voice only),
  ``handover`` (a departed provider's number), ``errors``, ``phones``,
  ``settings`` (frozen dataclasses per concern; the voice and admin ones in
  ``operator_settings``), ``observability`` (logger, metrics, phone
  masking), ``ports`` (the store, Twilio and queue interfaces; no AWS, no twilio import)
  and ``leases`` (pool-number allocation).
- ``messaging``: SMS. ``routing`` (``SmsRouter``: where an inbound SMS goes; start here),
  ``text`` (keywords, replies, long bodies), ``parts`` (a forward's parts, planned on its
  claim and named by their status callbacks), ``delivery`` (status callbacks),
  ``failures`` (the one timed resend, provider and owner alerts), ``handover`` (the
  answer on a departed provider's number).
- ``voice``: calls, shaped like SMS. ``routing`` (``VoiceRouter``), ``twiml``,
  ``click_to_call`` (ring the provider, then bridge to the client), ``services``,
  ``handover``.
- ``admin``: what the operator, Zapier and the schedules run. ``context``,
  ``provisioning`` (Paths A, B, C, rotation), ``numbers`` (buy, attach), ``sessions``,
  ``clients``, ``pool`` (stats), ``schedules`` (pool monitor, standby keeper, sweeper),
  ``handover`` (a successor takes over a departed provider's number).
- ``mirror``: the Airtable mirror's side of the layer. ``outbox`` (records and the outbox
  port), ``rows`` (the only module that knows Airtable field names), ``webhook`` (the
  context and result SMS and voice routing share: records, audit trail, outcome).
- ``hooks``: outbound events for the operator's automations. ``events`` (read from the
  outbox's audit records), ``subscriptions``, ``dispatch`` (outbox -> hooks queue),
  ``delivery`` (signed POST, retries, DLQ, 410 unsubscribes).
- ``store``: the system of record. ``dynamo``, ``admin``, ``calls`` on DynamoDB (``items``
  builds every key; the table layout is in the package docstring) and ``memory`` twins.
- ``adapters``: the outside world behind the ports. ``twilio_gateway``,
  ``twilio_sandbox`` (records instead of sending), ``aws_queues`` (SQS, SNS), ``secrets``,
  ``hook_http`` (a hook's POST), ``memory`` (in-memory queues and outbox).
- ``handlers``: API Gateway and EventBridge events in, answers out. ``twilio_request``
  (the one signature check every Twilio route makes), ``sms``, ``voice``, ``admin_api``
  and ``admin_input``, ``admin_hooks``, ``schedules``, ``hooks`` (the hooks queue).
- ``wiring``: builds the adapters once per container.

Dependencies point down this list's reverse: handlers -> domain (messaging, voice, admin)
-> mirror, core; adapters and store implement core.ports. The design notes are in
docs/architecture.md.
"""
