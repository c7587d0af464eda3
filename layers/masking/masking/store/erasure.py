"""Erasure on DynamoDB: what ``DELETE /clients/{id}`` and ``DELETE /providers/{id}/data`` remove.

- a pair's lease: the pair item (it copies the client's phone and name), its slot when
  this client still holds it (the pool number is free again), the ``LEASE#`` pointer and
  the client's ``LEASEOF#`` pointer;
- message bodies: every ``MSG#`` item of the person keeps its idempotency role but loses
  ``body``, ``media_urls``, ``forwarded`` and ``planned`` (which hold phones and bodies). MSG items
  are not indexed by person, so this is the table's one Scan (admin only, rare, bounded by
  the 30-day TTL of MSG items);
- calls: every inbound-call answer (``VOICE#``, whose TwiML names the dialed phone) and
  click-to-call session (``CALL#``) in the person's call history, with its ``CALLLOG#``
  pointer. A provider's history is one query; a client's spans providers, so it is a
  Scan of the pointers (bounded by their 30-day TTL);
- the profile: replaced by a tombstone (``erased_at``, no name, phone or email), and its
  phone and external-id index items deleted.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from masking.core.models import Client, Lease, Provider
from masking.store.items import (
    DynamoTable,
    build_record,
    client_phone_key,
    from_item,
    item_key,
    message_key,
    pair_key,
    provider_phone_key,
    slot_key,
    to_item,
)

ERASED_NAME = "Erased"


class DynamoErasure:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    # ---- reads
    def erased_at(self, kind: str, party_id: str) -> str | None:
        """When the client's or provider's profile was erased (``kind``: CLIENT, PROVIDER)."""
        key = item_key(f"{kind}#{party_id}", "PROFILE")
        item = self.table.client.get_item(TableName=self.table.table_name, Key=key, ConsistentRead=True).get("Item")
        if not item:
            return None
        return str(from_item(item).get("erased_at") or "") or None

    def client_pairs(self, client_id: str) -> list[Lease]:
        pointers = self.table._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :of)",
            ExpressionAttributeValues={":pk": {"S": f"CLIENT#{client_id}"}, ":of": {"S": "LEASEOF#"}},
        )
        pairs = []
        for pointer in pointers:
            provider_id = str(from_item(pointer)["provider_id"])
            key = pair_key(provider_id, client_id)
            item = self.table.client.get_item(TableName=self.table.table_name, Key=key, ConsistentRead=True).get("Item")
            if item:
                pairs.append(build_record(Lease, from_item(item)))
            else:  # a pointer left by an earlier, interrupted erasure
                self._delete(item_key(f"CLIENT#{client_id}", f"LEASEOF#{provider_id}"))
        return pairs

    def message_sids(self, party: str, party_id: str) -> list[str]:
        """MessageSids of MSG items whose ``client_id`` / ``provider_id`` is ``party_id``."""
        items = self.table._scan(
            FilterExpression="begins_with(pk, :msg) AND #party = :id AND attribute_not_exists(erased_at)",
            ExpressionAttributeNames={"#party": f"{party}_id"},
            ExpressionAttributeValues={":msg": {"S": "MSG#"}, ":id": {"S": party_id}},
            ProjectionExpression="pk",
        )
        return [item["pk"]["S"].removeprefix("MSG#") for item in items]

    def call_pointers(self, party: str, party_id: str) -> list[dict[str, Any]]:
        """The ``CALLLOG#`` pointers of a provider's (``party``: provider) or a client's calls."""
        if party == "provider":
            return self.table._query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": f"CALLLOG#{party_id}"}})
        return self.table._scan(
            FilterExpression="begins_with(pk, :log) AND client_id = :id",
            ExpressionAttributeValues={":log": {"S": "CALLLOG#"}, ":id": {"S": party_id}},
        )

    # ---- writes
    def erase_call(self, pointer: dict[str, Any]) -> None:
        """Deletes one call (its answer or session item) and its history pointer."""
        self._delete(item_key(pointer["ref_pk"]["S"], pointer["ref_sk"]["S"]))
        self._delete(item_key(pointer["pk"]["S"], pointer["sk"]["S"]))

    def _delete(self, key: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None) -> bool:
        kwargs: dict[str, Any] = {"TableName": self.table.table_name, "Key": key}
        if condition:
            kwargs.update(ConditionExpression=condition, ExpressionAttributeValues=values or {})
        return self.table._conditional(lambda: self.table.client.delete_item(**kwargs))

    def erase_pair(self, lease: Lease) -> bool:
        """Deletes the pair's lease; True when the pool number was freed (this client held it)."""
        ours = {":client": {"S": lease.client_id}}
        freed = self._delete(slot_key(lease.provider_id, lease.pool_number), "client_id = :client", ours)
        self._delete(pair_key(lease.provider_id, lease.client_id))
        self._delete(item_key(f"LEASE#{lease.lease_id}", "LEASE"))
        self._delete(item_key(f"CLIENT#{lease.client_id}", f"LEASEOF#{lease.provider_id}"))
        return freed

    def blank_message(self, message_sid: str, at: str) -> None:
        self.table._conditional(
            lambda: self.table.client.update_item(
                TableName=self.table.table_name,
                Key=message_key(message_sid),
                # forwarded stays, empty: a write to forwarded.<sid> in flight then fails its
                # erased_at condition instead of naming a path that no longer exists
                UpdateExpression="REMOVE body, media_urls, planned SET erased_at = :at, forwarded = :none",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":at": {"S": at}, ":none": {"M": {}}},
            )
        )

    def erase_client_profile(self, client: Client, at: str) -> None:
        tombstone = {"client_id": client.client_id, "name": ERASED_NAME, "phone": "", "entity": "client", "erased_at": at}
        self.table.client.put_item(TableName=self.table.table_name, Item=to_item(f"CLIENT#{client.client_id}", "PROFILE", tombstone))
        owner = {":id": {"S": client.client_id}}
        if client.phone:
            self._delete(client_phone_key(client.phone), "client_id = :id", owner)
        if client.external_id:
            self._delete(item_key(f"CLIENTEXT#{client.external_id}", "CLIENTEXT"), "client_id = :id", owner)

    def erase_provider_profile(self, provider: Provider, at: str) -> None:
        tombstone = asdict(provider) | {"name": ERASED_NAME, "phone": "", "email": None, "reserved_number": None}
        tombstone |= {"entity": "provider", "erased_at": at}
        self.table.client.put_item(TableName=self.table.table_name, Item=to_item(f"PROVIDER#{provider.provider_id}", "PROFILE", tombstone))
        if provider.phone:
            self._delete(provider_phone_key(provider.phone), "provider_id = :id", {":id": {"S": provider.provider_id}})
