"""The system of record: one DynamoDB table, and in-memory twins of its stores for tests.

The stores implement the ports of ``masking.core.ports``: ``dynamo.DynamoRoutingStore``
(SMS hot path, delivery failures), ``admin.DynamoAdminStore`` (admin flows, schedules),
``calls.DynamoCallStore`` (voice); ``memory`` has ``MemoryRoutingStore`` and
``MemoryCallStore``. ``items`` builds every key. Every access is a GetItem, BatchGetItem,
Query or a conditional write on keys; there are no scans.

=========================  ====================  =====================================
pk                         sk                    what
=========================  ====================  =====================================
NUMBER#<e164>              NUMBER                a number we own (lifecycle, status)
POOL                       <e164>                index of Ready pool numbers
INVENTORY                  <e164>                copy of every number (for listings)
PROVIDER#<id>              PROFILE               a provider
PROVIDER#<id>              PAIR#<client id>      the pair's lease (sticky pool number)
PROVIDER#<id>              SLOT#<pool e164>      who holds this pool number for the provider
PROVIDERS                  <provider id>         index of providers (for pool stats)
PROVIDERPHONE#<e164>       PROVIDERPHONE         provider id by real phone
CLIENT#<id>                PROFILE               a client
CLIENT#<id>                LEASEOF#<provider>    a client's leases (new phone or name reaches them)
CLIENTPHONE#<e164>         CLIENTPHONE           the client, by real phone
CLIENTEXT#<external id>    CLIENTEXT             client id by external id (Time To Pet)
LEASE#<lease id>           LEASE                 (provider, client) of a lease id
MSG#<MessageSid>           MSG                   idempotency + what was forwarded (TTL);
                                                 claim_token: who claimed it (claims.py)
MSG#<MessageSid>           PART#<index>          a parked forward's part: sending / sent /
                                                 failed, the attempt holding it (TTL)
OUTBOXSPILL                <time>#<uuid>         mirror records SQS refused, until the
                                                 outbox_republisher queues them (spill.py)
FAILURES                   <outbound SID>        permanent failures of the window (TTL)
OWNERALERT                 OWNERALERT            the last owner alert
GUARD                      pool-purchase, ...    one purchase per schedule decision
VOICE#<CallSid>            VOICE                 an inbound call: the TwiML we answered
                                                 (idempotency), the dial outcome (TTL)
CALL#<call session id>     CALL                  a click-to-call session (TTL)
CALLRATE#<provider id>     <YYYY-MM-DDTHH>       calls started by the provider in that
                                                 clock hour (atomic counter, TTL)
HOOKS                      <hook id>             a hook subscription (hooks.py)
HOOKSENT#<hook id>         <event id>            the hook acknowledged the event (TTL)
=========================  ====================  =====================================
"""
