"""DynamoDB routing store: the SMS hot path and delivery failures, on the one table.

Every access is one GetItem, BatchGetItem, Query or conditional write / transaction on
keys (the layout is in ``masking.store``). The SLOT item is what makes a pool number unique
per provider: it is only written under the condition that it is free, expired, or already
this client's.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from masking.core.errors import LeaseConflict, StoreBusy
from masking.core.models import (
    ClaimOutcome,
    Client,
    DeliveryUpdate,
    ForwardedPart,
    InboundLookup,
    Lease,
    Lifecycle,
    MessageRecord,
    NumberRecord,
    NumberStatus,
    Party,
    PoolView,
    Provider,
)
from masking.store.claims import MessageClaims
from masking.store.forwarding import DynamoForwardParts
from masking.store.items import (
    build_record,
    client_key,
    client_phone_key,
    from_item,
    item_key,
    message_key,
    number_from,
    number_key,
    pair_key,
    provider_key,
    provider_phone_key,
    serializer,
    slot_key,
    to_item,
)


class DynamoRoutingStore(DynamoForwardParts, MessageClaims):
    # ---- hot path reads
    def lookup_inbound(self, to_number: str, from_phone: str) -> InboundLookup:
        keys = [number_key(to_number), client_phone_key(from_phone), provider_phone_key(from_phone)]
        found = self._batch_get(keys)
        number = found.get((f"NUMBER#{to_number}", "NUMBER"))
        client = found.get((f"CLIENTPHONE#{from_phone}", "CLIENTPHONE"))
        provider = found.get((f"PROVIDERPHONE#{from_phone}", "PROVIDERPHONE"))
        return InboundLookup(
            number=number_from(from_item(number)) if number else None,
            client=build_record(Client, from_item(client)) if client else None,
            provider_id=from_item(provider)["provider_id"] if provider else None,
        )

    def _provider_and_lease(self, provider_id: str, lease_key: dict[str, Any]) -> tuple[Provider | None, Lease | None]:
        found = self._batch_get([provider_key(provider_id), lease_key])
        provider = found.get((f"PROVIDER#{provider_id}", "PROFILE"))
        lease = found.get((lease_key["pk"]["S"], lease_key["sk"]["S"]))
        return (
            build_record(Provider, from_item(provider)) if provider else None,
            build_record(Lease, from_item(lease)) if lease else None,
        )

    def get_provider_and_pair(self, provider_id: str, client_id: str) -> tuple[Provider | None, Lease | None]:
        return self._provider_and_lease(provider_id, pair_key(provider_id, client_id))

    def get_provider_and_slot(self, provider_id: str, pool_number: str) -> tuple[Provider | None, Lease | None]:
        return self._provider_and_lease(provider_id, slot_key(provider_id, pool_number))

    # ---- hot path writes
    def touch_lease(self, lease: Lease, last_activity_at: str, expires_at: int, record: MessageRecord | None) -> Lease:
        for _ in range(2):  # a second time after taking over a stale claim of this MessageSid
            items = [self._message_put(record)] if record is not None else []
            codes = self._transact([*items, *self.lease_touch_items(lease, last_activity_at, expires_at)])
            if codes is None:
                lease.last_activity_at = last_activity_at
                lease.expires_at = expires_at
                return lease
            if record is not None:
                if codes and codes[0] == "ConditionalCheckFailed":
                    self._message_taken(record)
                    continue
                codes = codes[1:]
            if "ConditionalCheckFailed" in codes:
                raise LeaseConflict(lease.lease_id)  # the lease itself changed: a lost race
            raise StoreBusy(f"lease touch cancelled for another reason: {codes}")
        raise StoreBusy("lease touch: the MessageSid claim changed hands twice")

    def lease_touch_items(self, lease: Lease, last_activity_at: str, expires_at: int) -> list[dict[str, Any]]:
        """Transaction items extending an active lease (pair and slot), under the condition
        that it is still this lease and the slot still this client's."""
        values = {
            ":last": {"S": last_activity_at},
            ":exp": {"N": str(expires_at)},
            ":lid": {"S": lease.lease_id},
            ":cid": {"S": lease.client_id},
        }
        update = "SET last_activity_at = :last, expires_at = :exp"
        return [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": pair_key(lease.provider_id, lease.client_id),
                    "UpdateExpression": update,
                    "ConditionExpression": "lease_id = :lid",
                    "ExpressionAttributeValues": {k: values[k] for k in (":last", ":exp", ":lid")},
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": slot_key(lease.provider_id, lease.pool_number),
                    "UpdateExpression": update,
                    "ConditionExpression": "lease_id = :lid AND client_id = :cid",
                    "ExpressionAttributeValues": values,
                }
            },
        ]

    def claim_slot(self, lease: Lease, expected_pair_version: int | None, now_epoch: int, record: MessageRecord | None) -> ClaimOutcome:
        data = asdict(lease)
        data["entity"] = "lease"
        pair_condition: dict[str, Any]
        if expected_pair_version is None:
            pair_condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            pair_condition = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(expected_pair_version)}},
            }
        items: list[dict[str, Any]] = []
        if record is not None:
            items.append(self._message_put(record))
        items.append(
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(f"PROVIDER#{lease.provider_id}", f"PAIR#{lease.client_id}", data),
                    **pair_condition,
                }
            }
        )
        items.append(
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(f"PROVIDER#{lease.provider_id}", f"SLOT#{lease.pool_number}", data),
                    "ConditionExpression": "attribute_not_exists(pk) OR client_id = :cid OR expires_at <= :now",
                    "ExpressionAttributeValues": {":cid": {"S": lease.client_id}, ":now": {"N": str(now_epoch)}},
                }
            }
        )
        pointer = {"provider_id": lease.provider_id, "client_id": lease.client_id, "lease_id": lease.lease_id, "entity": "lease_pointer"}
        items.append({"Put": {"TableName": self.table_name, "Item": to_item(f"LEASE#{lease.lease_id}", "LEASE", pointer)}})
        # the client's providers, so a client's new phone or name reaches its leases
        items.append(
            {"Put": {"TableName": self.table_name, "Item": to_item(f"CLIENT#{lease.client_id}", f"LEASEOF#{lease.provider_id}", pointer)}}
        )
        codes = self._transact(items)
        if codes is None:
            return ClaimOutcome.CLAIMED
        if record is not None:
            if codes and codes[0] == "ConditionalCheckFailed":
                self._message_taken(record)
                return ClaimOutcome.PAIR_CHANGED  # taken over: read the pair again and retry
            codes = codes[1:]
        if codes and codes[0] == "ConditionalCheckFailed":
            return ClaimOutcome.PAIR_CHANGED
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            return ClaimOutcome.SLOT_TAKEN
        raise StoreBusy(f"lease transaction cancelled for another reason: {codes}")

    def create_client(self, client: Client) -> Client:
        """``client``, or the one holding its phone. Cancelled otherwise (a concurrent transaction):
        tried once more; the error names no phone (it reaches the Lambda log)."""
        data = asdict(client)
        data["entity"] = "client"
        codes = self._transact(
            [
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item(f"CLIENTPHONE#{client.phone}", "CLIENTPHONE", data),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": self.table_name, "Item": to_item(f"CLIENT#{client.client_id}", "PROFILE", data)}},
            ]
        )
        if codes is None:
            return client
        if not codes or codes[0] != "ConditionalCheckFailed":
            raise StoreBusy(f"client creation cancelled for another reason: {codes}")
        # a lost race: another message created this phone's client first; use that one
        found = self._batch_get([client_phone_key(client.phone)])
        existing = found.get((f"CLIENTPHONE#{client.phone}", "CLIENTPHONE"))
        if existing is None:
            raise StoreBusy("client creation lost a race to a client that is gone")
        return build_record(Client, from_item(existing))

    def set_opt_out(self, lease: Lease, party: Party, opted_out: bool) -> None:
        attribute = "client_opted_out" if party == "client" else "provider_opted_out"
        update = {
            "UpdateExpression": f"SET {attribute} = :flag",
            "ConditionExpression": "lease_id = :lid",
            "ExpressionAttributeValues": {":flag": {"BOOL": opted_out}, ":lid": {"S": lease.lease_id}},
        }
        self._transact(
            [
                {"Update": {"TableName": self.table_name, "Key": pair_key(lease.provider_id, lease.client_id), **update}},
                {"Update": {"TableName": self.table_name, "Key": slot_key(lease.provider_id, lease.pool_number), **update}},
            ]
        )

    def expire_lease(self, lease: Lease, at_epoch: int) -> bool:
        update = {
            "UpdateExpression": "SET expires_at = :at",
            "ConditionExpression": "lease_id = :lid",
            "ExpressionAttributeValues": {":at": {"N": str(at_epoch)}, ":lid": {"S": lease.lease_id}},
        }
        codes = self._transact(
            [
                {"Update": {"TableName": self.table_name, "Key": pair_key(lease.provider_id, lease.client_id), **update}},
                {"Update": {"TableName": self.table_name, "Key": slot_key(lease.provider_id, lease.pool_number), **update}},
            ]
        )
        return codes is None

    # ---- allocation reads
    def pool_view(self, provider_id: str) -> PoolView:
        ready = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "POOL"}},
            ProjectionExpression="sk",
        )
        slots = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :slot)",
            ExpressionAttributeValues={":pk": {"S": f"PROVIDER#{provider_id}"}, ":slot": {"S": "SLOT#"}},
        )
        leases = [build_record(Lease, from_item(item)) for item in slots]
        return PoolView(ready_numbers=sorted(item["sk"]["S"] for item in ready), slots={lease.pool_number: lease for lease in leases})

    # ---- inventory and people
    def put_number(self, number: NumberRecord) -> None:
        self._transact(self._number_items(number))

    def _number_items(self, number: NumberRecord, condition: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The number item (optionally under ``condition``) and its two index items:
        POOL (Ready pool numbers, for allocation) and INVENTORY (every number, for admin)."""
        data = asdict(number)
        data["entity"] = "number"
        put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": to_item(f"NUMBER#{number.number}", "NUMBER", data),
            **(condition or {}),
        }
        pool_index = item_key("POOL", number.number)
        items: list[dict[str, Any]] = [
            {"Put": put},
            {"Put": {"TableName": self.table_name, "Item": to_item("INVENTORY", number.number, data)}},
        ]
        if number.lifecycle == Lifecycle.POOL and number.status == NumberStatus.READY:
            items.append({"Put": {"TableName": self.table_name, "Item": pool_index}})
        else:
            items.append({"Delete": {"TableName": self.table_name, "Key": pool_index}})
        return items

    def _provider_item(self, provider: Provider) -> dict[str, Any]:
        """The provider's PROFILE item."""
        data = asdict(provider)
        data["entity"] = "provider"
        return to_item(f"PROVIDER#{provider.provider_id}", "PROFILE", data)

    def put_provider(self, provider: Provider) -> None:
        self._transact(
            [
                {"Put": {"TableName": self.table_name, "Item": self._provider_item(provider)}},
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item(f"PROVIDERPHONE#{provider.phone}", "PROVIDERPHONE", {"provider_id": provider.provider_id}),
                    }
                },
                {"Put": {"TableName": self.table_name, "Item": to_item("PROVIDERS", provider.provider_id, {"entity": "provider_index"})}},
            ]
        )

    def put_client(self, client: Client) -> None:
        data = asdict(client)
        data["entity"] = "client"
        self._transact(
            [
                {"Put": {"TableName": self.table_name, "Item": to_item(f"CLIENT#{client.client_id}", "PROFILE", data)}},
                {"Put": {"TableName": self.table_name, "Item": to_item(f"CLIENTPHONE#{client.phone}", "CLIENTPHONE", data)}},
            ]
        )

    def record_delivery(self, update: DeliveryUpdate) -> bool:
        entry = update.entry()
        return self._update_if(
            message_key(update.message_sid),
            UpdateExpression="SET delivery.#sid = :entry",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(delivery.#sid) OR delivery.#sid.#rank < :rank)",
            ExpressionAttributeNames={"#sid": update.outbound_sid, "#rank": "rank"},
            ExpressionAttributeValues={":entry": serializer.serialize(entry), ":rank": {"N": str(update.rank)}},
        )

    # ---- delivery failures (status callbacks, the timed resend, owner alerts)
    def claim_resend(self, message_sid: str, part: ForwardedPart) -> bool:
        """Marks ``part`` as resent, once, and only if it was a first attempt; records it
        under its SID when only the plan had it (a part the webhook sent: ``messaging.parts``).
        Never on an erased message (``erased_at``): that is a failed condition, not an error."""
        return self._update_if(
            message_key(message_sid),
            UpdateExpression="SET resends.#sid = :pending, forwarded.#sid = if_not_exists(forwarded.#sid, :part)",
            ConditionExpression=(
                "attribute_exists(pk) AND attribute_not_exists(erased_at) AND attribute_not_exists(resends.#sid)"
                " AND (attribute_not_exists(forwarded.#sid) OR forwarded.#sid.attempt = :one)"
            ),
            ExpressionAttributeNames={"#sid": part.sid},
            ExpressionAttributeValues={":pending": {"S": "pending"}, ":one": {"N": "1"}, ":part": serializer.serialize(part.as_map())},
        )

    def start_resend(self, message_sid: str, outbound_sid: str) -> bool:
        """pending -> sending, once: the one queue delivery that may send the resend."""
        return self._update_if(
            message_key(message_sid),
            UpdateExpression="SET resends.#sid = :sending",
            ConditionExpression="resends.#sid = :pending",
            ExpressionAttributeNames={"#sid": outbound_sid},
            ExpressionAttributeValues={":sending": {"S": "sending"}, ":pending": {"S": "pending"}},
        )

    def add_sent_part(self, message_sid: str, part: ForwardedPart) -> None:
        """Records one more SMS sent for ``message_sid`` (a service reply, a delivery alert);
        nothing when the message has no record yet (a notice sent before the claim), or was erased."""
        self._update_if(
            message_key(message_sid),
            UpdateExpression="SET forwarded.#new = :part",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(erased_at)",
            ExpressionAttributeNames={"#new": part.sid},
            ExpressionAttributeValues={":part": serializer.serialize(part.as_map())},
        )

    def add_resent_part(self, message_sid: str, original_sid: str, part: ForwardedPart) -> None:
        self._update_if(  # an erased message keeps no text: the part is not recorded
            message_key(message_sid),
            UpdateExpression="SET forwarded.#new = :part, resends.#orig = :new",
            ConditionExpression="attribute_not_exists(erased_at)",
            ExpressionAttributeNames={"#new": part.sid, "#orig": original_sid},
            ExpressionAttributeValues={":part": serializer.serialize(part.as_map()), ":new": {"S": part.sid}},
        )

    def record_permanent_failure(self, outbound_sid: str, at_epoch: int, window_seconds: int) -> int:
        """Records one permanent failure (once per SID); returns how many the window holds."""
        self.client.put_item(
            TableName=self.table_name,
            Item=to_item("FAILURES", outbound_sid, {"at": at_epoch, "ttl": at_epoch + 2 * window_seconds}),
        )
        total = 0
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "#at > :start",
            "ExpressionAttributeNames": {"#at": "at"},
            "ExpressionAttributeValues": {":pk": {"S": "FAILURES"}, ":start": {"N": str(at_epoch - window_seconds)}},
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        while True:
            response = self.client.query(**kwargs)
            total += int(response.get("Count", 0))
            if "LastEvaluatedKey" not in response:
                return total
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def claim_owner_alert(self, at_epoch: int, window_seconds: int) -> bool:
        """True for the one caller that may alert the owner in this window."""
        return self._put_if(
            Item=to_item("OWNERALERT", "OWNERALERT", {"alerted_at": at_epoch}),
            ConditionExpression="attribute_not_exists(pk) OR alerted_at <= :start",
            ExpressionAttributeValues={":start": {"N": str(at_epoch - window_seconds)}},
        )

    def increment_client_errors(self, client_id: str) -> int:
        response = self._unless_condition_fails(
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=client_key(client_id),
                UpdateExpression="ADD twilio_error_count :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
            )
        )
        return 0 if response is None else int(response["Attributes"]["twilio_error_count"]["N"])
