"""Shared package of the masking service: domain, adapters and wiring.

Layout:
- ``settings``: one pydantic model per concern, read from the environment once.
- ``observability``: Powertools logger and metrics, phone masking for logs.
- ``phones``: E.164 checks and normalization.
- ``models``: the domain records (provider, client, number, lease, messages).
- ``sms``: SMS routing (where an inbound SMS goes and what is sent).
- ``store``: the routing state (DynamoDB, and an in-memory twin for unit tests).
- ``twilio_gateway``: sending SMS through Twilio (or a sandbox that records).
- ``outbox``: mirror records for Airtable, published to SQS.
- ``webhooks``: API Gateway <-> Twilio webhook plumbing (signature, form body, TwiML).
- ``wiring``: builds the services above from settings, once per container.
"""
