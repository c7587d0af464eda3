"""Erasure through the admin API on DynamoDB (moto): DELETE /clients/{id} and
DELETE /providers/{id}/data close leases, free pool numbers, delete phones, names and
bodies, put erasure records on the outbox, audit without the data, and are idempotent."""

from __future__ import annotations

import json

import boto3

from local.backends import REGION, EmbeddedAws
from masking.core.call_records import CallRecord
from masking.handlers.sms import handle_sms_webhook
from masking.mirror.outbox import MirrorRecord
from masking.store.admin import DynamoAdminStore
from masking.store.calls import DynamoCallStore
from tests.integration.test_admin_api import call, records
from tests.support import OLIVIA, PETE, PROVIDER, World

RESERVED = PROVIDER.reserved_number
assert RESERVED


def conversation(world: World) -> tuple[str, list[str]]:
    """Olivia and Sam exchange two messages; Pete texts Sam once. The pool number and Olivia's SIDs."""
    first = world.next_sid()
    handle_sms_webhook(signed(world, OLIVIA.phone, RESERVED, "Rex is at 12 Elm St, key under the mat", first), world.services)
    pool_number = world.sandbox.sent[-1].from_number
    second = world.next_sid()
    handle_sms_webhook(signed(world, PROVIDER.phone, pool_number, "Got it, thanks Olivia", second), world.services)
    handle_sms_webhook(signed(world, PETE.phone, RESERVED, "Is Tuesday ok?", world.next_sid()), world.services)
    return pool_number, [first, second]


def signed(world: World, from_phone: str, to_number: str, body: str, sid: str) -> dict:
    return world.sms_event(from_phone, to_number, body, sid=sid)


def test_erasing_a_client_closes_leases_deletes_data_and_is_idempotent(aws: EmbeddedAws, world: World) -> None:
    pool_number, sids = conversation(world)
    aws.drain_outbox()
    store = DynamoAdminStore(aws.env["TABLE_NAME"])

    status, body = call("DELETE", f"/clients/{OLIVIA.client_id}")

    assert status == 200, body
    erased = body["erased"]
    assert (erased["kind"], erased["id"], erased["already_erased"]) == ("client", OLIVIA.client_id, False)
    assert len(erased["leases_closed"]) == 1 and erased["pool_numbers_freed"] == 1
    assert erased["message_bodies_erased"] == 2 and erased["profile_erased"] is True
    # DynamoDB: no phone, name, lease or body left
    assert store.lookup_inbound(RESERVED, OLIVIA.phone).client is None
    assert store.get_provider_and_pair(PROVIDER.provider_id, OLIVIA.client_id)[1] is None
    assert store.get_provider_and_slot(PROVIDER.provider_id, pool_number)[1] is None
    client = store.get_client(OLIVIA.client_id)
    assert client is not None and client.phone == "" and "Olivia" not in client.name
    for sid in sids:
        message = store.get_message(sid)
        assert message is not None and message.body == "" and message.forwarded == {}
    pete = store.get_message("SM" + "3".zfill(32))
    assert pete is not None and pete.body == "Is Tuesday ok?"  # nobody else's data
    # the mirror: the client's row and the messages' rows blanked; an audit row without the data
    published = records(aws)
    by_kind: dict[str, list[MirrorRecord]] = {}
    for record in published:
        by_kind.setdefault(record.kind, []).append(record)
    assert {r.key for r in by_kind["message"]} == set(sids)
    assert all(r.fields["Body"] == "[erased]" and r.fields["From"] == "" for r in by_kind["message"])
    [client_row] = by_kind["client"]
    assert client_row.fields["Client Phone (E.164)"] == "" and client_row.fields["Name"] == "Erased client"
    [audit] = by_kind["audit"]
    assert audit.fields["Event"] == "Client data erased"
    dumped = json.dumps([r.fields for r in published])
    assert OLIVIA.phone not in dumped and "Elm St" not in dumped

    status, again = call("DELETE", f"/clients/{OLIVIA.client_id}")
    assert status == 200, again
    assert again["erased"]["already_erased"] is True
    assert again["erased"]["leases_closed"] == [] and again["erased"]["message_bodies_erased"] == 0

    # the freed pool number serves the next client; Olivia texting again is a new client
    handle_sms_webhook(signed(world, OLIVIA.phone, RESERVED, "hello again", world.next_sid()), world.services)
    again_client = store.lookup_inbound(RESERVED, OLIVIA.phone).client
    assert again_client is not None and again_client.client_id != OLIVIA.client_id


def test_erasing_an_unknown_client_is_404(aws: EmbeddedAws, world: World) -> None:
    status, body = call("DELETE", "/clients/cl-nobody")
    assert status == 404 and body["success"] is False


def test_provider_data_is_erased_only_after_the_provider_is_removed(aws: EmbeddedAws, world: World) -> None:
    conversation(world)
    store = DynamoAdminStore(aws.env["TABLE_NAME"])

    status, body = call("DELETE", f"/providers/{PROVIDER.provider_id}/data")
    assert status == 409, body

    assert call("DELETE", f"/providers/{PROVIDER.provider_id}")[0] == 200
    status, body = call("DELETE", f"/providers/{PROVIDER.provider_id}/data")
    assert status == 200, body
    erased = body["erased"]
    assert erased["message_bodies_erased"] == 3 and len(erased["leases_closed"]) == 2
    provider = store.get_provider(PROVIDER.provider_id)
    assert provider is not None and provider.phone == "" and provider.status == "Inactive"
    assert store.find_provider_id_by_phone(PROVIDER.phone) is None

    status, again = call("DELETE", f"/providers/{PROVIDER.provider_id}/data")
    assert status == 200 and again["erased"]["already_erased"] is True and again["erased"]["message_bodies_erased"] == 0


def test_erasure_deletes_the_persons_calls_and_their_history(aws: EmbeddedAws, world: World) -> None:
    """A call's stored TwiML names the dialed phone, so an erased client's calls go too."""
    calls = DynamoCallStore(aws.env["TABLE_NAME"])
    olivia_call, pete_call = "CA" + "1" * 32, "CA" + "2" * 32
    calls.claim_call(CallRecord(olivia_call, "2026-11-01T12:00:00Z", "provider_to_client", "bridged",
                                f"<Response><Dial>{OLIVIA.phone}</Dial></Response>", PROVIDER.provider_id, OLIVIA.client_id))  # fmt: skip
    calls.claim_call(CallRecord(pete_call, "2026-11-01T11:00:00Z", "provider_to_client", "bridged",
                                f"<Response><Dial>{PETE.phone}</Dial></Response>", PROVIDER.provider_id, PETE.client_id))  # fmt: skip
    assert call("POST", "/calls", {"provider": PROVIDER.provider_id, "client": OLIVIA.client_id})[0] == 201

    status, body = call("DELETE", f"/clients/{OLIVIA.client_id}")

    assert status == 200 and body["erased"]["calls_erased"] == 2, body
    assert calls.get_call(olivia_call) is None and calls.get_call(pete_call) is not None
    assert [c.call_sid for c in calls.list_calls(PROVIDER.provider_id)] == [pete_call]  # type: ignore[union-attr]
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=aws.env["TABLE_NAME"])["Items"]
    assert OLIVIA.phone not in json.dumps(items)
    assert call("DELETE", f"/clients/{OLIVIA.client_id}")[1]["erased"]["calls_erased"] == 0

    assert call("DELETE", f"/providers/{PROVIDER.provider_id}")[0] == 200
    status, body = call("DELETE", f"/providers/{PROVIDER.provider_id}/data")
    assert status == 200 and body["erased"]["calls_erased"] == 1, body
    assert calls.get_call(pete_call) is None and calls.list_calls(PROVIDER.provider_id) == []
