"""DynamoDB access for the admin flows and the schedules: providers, clients, numbers,
leases, purchase guards (``masking.core.ports.AdminStore``).

Every access is still a GetItem, Query or conditional write on keys; listings read one
index partition (``PROVIDERS``, ``INVENTORY``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from masking.core.models import Client, Lease, Lifecycle, NumberRecord, NumberStatus, Provider
from masking.store.dynamo import DynamoRoutingStore
from masking.store.items import (
    build_record,
    client_key,
    client_phone_key,
    from_item,
    item_key,
    number_from,
    pair_key,
    provider_key,
    provider_phone_key,
    slot_key,
    to_item,
)


class DynamoAdminStore(DynamoRoutingStore):
    # ---- providers
    def get_provider(self, provider_id: str) -> Provider | None:
        item = self.client.get_item(TableName=self.table_name, Key=provider_key(provider_id), ConsistentRead=True).get("Item")
        return build_record(Provider, from_item(item)) if item else None

    def find_provider_id_by_phone(self, phone: str) -> str | None:
        item = self.client.get_item(TableName=self.table_name, Key=provider_phone_key(phone), ConsistentRead=True).get("Item")
        return str(from_item(item)["provider_id"]) if item else None

    def create_provider(self, provider: Provider) -> bool:
        """Creates a provider unless one has this phone; False when the phone is taken."""
        codes = self._transact(
            [
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item(f"PROVIDERPHONE#{provider.phone}", "PROVIDERPHONE", {"provider_id": provider.provider_id}),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": self.table_name, "Item": self._provider_item(provider)}},
                {"Put": {"TableName": self.table_name, "Item": to_item("PROVIDERS", provider.provider_id, {"entity": "provider_index"})}},
            ]
        )
        return codes is None

    def save_provider(self, provider: Provider) -> None:
        self.client.put_item(TableName=self.table_name, Item=self._provider_item(provider))

    def deactivate_provider(self, provider: Provider) -> None:
        """Saves the provider (Inactive) and forgets its phone, so its texts route as anyone's."""
        self.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table_name, "Item": self._provider_item(provider)}},
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": provider_phone_key(provider.phone),
                        "ConditionExpression": "attribute_not_exists(pk) OR provider_id = :id",
                        "ExpressionAttributeValues": {":id": {"S": provider.provider_id}},
                    }
                },
            ]
        )

    def list_provider_ids(self) -> list[str]:
        return [
            item["sk"]["S"]
            for item in self._query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "PROVIDERS"}})
        ]

    # ---- numbers
    def get_number(self, number: str) -> NumberRecord | None:
        item = self.client.get_item(TableName=self.table_name, Key=item_key(f"NUMBER#{number}", "NUMBER"), ConsistentRead=True).get("Item")
        return number_from(from_item(item)) if item else None

    def list_numbers(self, lifecycle: Lifecycle | None = None, status: NumberStatus | None = None) -> list[NumberRecord]:
        items = self._query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "INVENTORY"}})
        numbers = [number_from(from_item(item)) for item in items]
        return [n for n in numbers if (lifecycle is None or n.lifecycle == lifecycle) and (status is None or n.status == status)]

    def create_number(self, number: NumberRecord) -> bool:
        """Records a number we just bought; False if we already have it."""
        codes = self._transact(self._number_items(number, {"ConditionExpression": "attribute_not_exists(pk)"}))
        return codes is None

    def assign_number(self, expected: NumberRecord, new: NumberRecord, provider: Provider | None = None) -> bool:
        """Writes ``new`` if the stored number still has ``expected``'s lifecycle, status and
        provider (optimistic), and ``provider`` in the same transaction. False if it moved."""
        names = {"#lifecycle": "lifecycle", "#status": "status"}
        values: dict[str, Any] = {":lifecycle": {"S": str(expected.lifecycle)}, ":status": {"S": str(expected.status)}}
        condition = "#lifecycle = :lifecycle AND #status = :status"
        if expected.provider_id:
            condition += " AND provider_id = :provider"
            values[":provider"] = {"S": expected.provider_id}
        else:
            condition += " AND attribute_not_exists(provider_id)"
        guard = {"ConditionExpression": condition, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        items = self._number_items(new, guard)
        if provider is not None:
            items.append({"Put": {"TableName": self.table_name, "Item": self._provider_item(provider)}})
        return self._transact(items) is None

    # ---- clients
    def get_client(self, client_id: str) -> Client | None:
        item = self.client.get_item(TableName=self.table_name, Key=client_key(client_id), ConsistentRead=True).get("Item")
        return build_record(Client, from_item(item)) if item else None

    def find_client(self, *, phone: str | None = None, external_id: str | None = None) -> Client | None:
        if external_id:
            item = self.client.get_item(
                TableName=self.table_name, Key=item_key(f"CLIENTEXT#{external_id}", "CLIENTEXT"), ConsistentRead=True
            ).get("Item")
            if item:
                return self.get_client(str(from_item(item)["client_id"]))
        if phone:
            item = self.client.get_item(TableName=self.table_name, Key=client_phone_key(phone), ConsistentRead=True).get("Item")
            if item:
                return build_record(Client, from_item(item))
        return None

    def save_client(self, client: Client, previous: Client | None) -> bool:
        """Creates or updates a client with its phone and external-id index items.

        Fails (False) when the phone or external id belongs to another client.
        """
        data = asdict(client)
        data["entity"] = "client"
        owner = {
            "ConditionExpression": "attribute_not_exists(pk) OR client_id = :id",
            "ExpressionAttributeValues": {":id": {"S": client.client_id}},
        }
        items: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table_name, "Item": to_item(f"CLIENT#{client.client_id}", "PROFILE", data)}},
            {"Put": {"TableName": self.table_name, "Item": to_item(f"CLIENTPHONE#{client.phone}", "CLIENTPHONE", data), **owner}},
        ]
        if client.external_id:
            ext = {"client_id": client.client_id, "entity": "client_external_id"}
            items.append(
                {"Put": {"TableName": self.table_name, "Item": to_item(f"CLIENTEXT#{client.external_id}", "CLIENTEXT", ext), **owner}}
            )
        if previous is not None and previous.phone != client.phone:
            items.append({"Delete": {"TableName": self.table_name, "Key": client_phone_key(previous.phone)}})
        if previous is not None and previous.external_id and previous.external_id != client.external_id:
            items.append({"Delete": {"TableName": self.table_name, "Key": item_key(f"CLIENTEXT#{previous.external_id}", "CLIENTEXT")}})
        return self._transact(items) is None

    # ---- leases
    def find_lease(self, lease_id: str) -> Lease | None:
        item = self.client.get_item(TableName=self.table_name, Key=item_key(f"LEASE#{lease_id}", "LEASE"), ConsistentRead=True).get("Item")
        if not item:
            return None
        pointer = from_item(item)
        lease = self.client.get_item(
            TableName=self.table_name, Key=pair_key(str(pointer["provider_id"]), str(pointer["client_id"])), ConsistentRead=True
        ).get("Item")
        found = build_record(Lease, from_item(lease)) if lease else None
        return found if found is not None and found.lease_id == lease_id else None

    def provider_leases(self, provider_id: str) -> list[Lease]:
        """The provider's pair leases, active or not (one per client it ever talked to)."""
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :pair)",
            ExpressionAttributeValues={":pk": {"S": f"PROVIDER#{provider_id}"}, ":pair": {"S": "PAIR#"}},
        )
        return [build_record(Lease, from_item(item)) for item in items]

    def refresh_client_on_leases(self, client: Client) -> int:
        """Copies a client's current phone and name onto every lease of theirs; returns how many."""
        pointers = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :of)",
            ExpressionAttributeValues={":pk": {"S": f"CLIENT#{client.client_id}"}, ":of": {"S": "LEASEOF#"}},
        )
        refreshed = 0
        for item in pointers:
            pointer = from_item(item)
            provider_id = str(pointer["provider_id"])
            pair = self.client.get_item(TableName=self.table_name, Key=pair_key(provider_id, client.client_id), ConsistentRead=True).get(
                "Item"
            )
            if not pair:
                continue
            lease = build_record(Lease, from_item(pair))
            update = {
                "UpdateExpression": "SET client_phone = :phone, client_name = :name",
                "ConditionExpression": "lease_id = :lid",
                "ExpressionAttributeValues": {":phone": {"S": client.phone}, ":name": {"S": client.name}, ":lid": {"S": lease.lease_id}},
            }
            codes = self._transact(
                [
                    {"Update": {"TableName": self.table_name, "Key": pair_key(provider_id, client.client_id), **update}},
                    {"Update": {"TableName": self.table_name, "Key": slot_key(provider_id, lease.pool_number), **update}},
                ]
            )
            refreshed += codes is None
        return refreshed

    def provider_slots(self, provider_id: str) -> list[Lease]:
        """Who holds which pool number for the provider (expired holders included)."""
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :slot)",
            ExpressionAttributeValues={":pk": {"S": f"PROVIDER#{provider_id}"}, ":slot": {"S": "SLOT#"}},
        )
        return [build_record(Lease, from_item(item)) for item in items]

    # ---- schedules
    def claim_guard(self, name: str, decision_id: str, at_epoch: int, window_seconds: int) -> bool:
        """At most one holder of guard ``name`` per window: EventBridge delivers at least
        once and runs may overlap, so a purchase decision is taken under this guard."""
        return self._put_if(
            Item=to_item("GUARD", name, {"decision_id": decision_id, "decided_at": at_epoch}),
            ConditionExpression="attribute_not_exists(pk) OR decided_at <= :start OR decision_id = :id",
            ExpressionAttributeValues={":start": {"N": str(at_epoch - window_seconds)}, ":id": {"S": decision_id}},
        )

    def release_guard(self, name: str, decision_id: str) -> None:
        """Gives a guard back (the decided purchase failed, the next run may try again)."""
        self._delete_if(
            item_key("GUARD", name),
            ConditionExpression="decision_id = :id",
            ExpressionAttributeValues={":id": {"S": decision_id}},
        )

    def delete_expired_slot(self, slot: Lease, now_epoch: int) -> bool:
        """Frees an expired slot for good (the pair keeps its pool number: sticky); True
        for the one caller that removed it."""
        return self._delete_if(
            slot_key(slot.provider_id, slot.pool_number),
            ConditionExpression="lease_id = :lid AND expires_at <= :now",
            ExpressionAttributeValues={":lid": {"S": slot.lease_id}, ":now": {"N": str(now_epoch)}},
        )
