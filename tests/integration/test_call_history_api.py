"""GET /calls (the call history) through create_session's lambda_handler on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from local.backends import EmbeddedAws
from masking.core.call_records import CallRecord
from masking.store.admin import DynamoAdminStore
from masking.store.calls import DynamoCallStore
from masking.voice.recording_link import link_is_valid
from tests.integration.test_admin_api import BASE, call, store  # noqa: F401 - the fixture
from tests.support import AUTH_TOKEN, OLIVIA, PETE, POOL, PROVIDER


def test_call_history_lists_calls_with_status_duration_and_voicemail(aws: EmbeddedAws, store: DynamoAdminStore) -> None:  # noqa: F811
    calls = DynamoCallStore(aws.env["TABLE_NAME"])
    sid = "CA" + "3" * 32
    calls.claim_call(
        CallRecord(sid, "2026-11-01T12:00:00Z", "client_to_provider", "bridged", "<Response/>", PROVIDER.provider_id, OLIVIA.client_id,
                   caller_id=POOL[0], dial_status="no-answer"))  # fmt: skip
    calls.update_call_once(
        sid, {"voicemail_sid": "RE" + "4" * 32, "voicemail_duration": 42, "voicemail_at": "2026-11-01T12:01:00Z"}, "voicemail_sid"
    )
    calls.claim_call(CallRecord("CA" + "5" * 32, "2026-11-01T11:00:00Z", "client_to_provider", "bridged", "<Response/>",
                                PROVIDER.provider_id, PETE.client_id, caller_id=POOL[1]))  # fmt: skip
    status, started = call("POST", "/calls", {"provider": PROVIDER.provider_id, "client": OLIVIA.client_id})
    assert status == 201

    status, everything = call("GET", f"/calls?provider={PROVIDER.provider_id}")
    status_olivia, olivia = call("GET", f"/calls?sitter_id={PROVIDER.provider_id}&client={OLIVIA.phone.replace('+', '%2B')}&limit=5")

    assert status == status_olivia == 200
    assert [c["id"] for c in everything["calls"]] == [started["call"]["id"], sid, "CA" + "5" * 32]
    [session, inbound] = olivia["calls"]
    assert (session["kind"], session["status"], session["caller_id"]) == ("click-to-call", "initiated", PROVIDER.reserved_number)
    assert (inbound["kind"], inbound["status"], inbound["caller_id"]) == ("inbound", "no-answer", POOL[0])
    link = inbound["voicemail"]["link"]
    assert inbound["voicemail"]["duration"] == 42 and link.startswith(f"{BASE}/voicemail/{sid}?")
    query = parse_qs(urlsplit(link).query)

    assert link_is_valid(AUTH_TOKEN, sid, query["expires"][0], query["sig"][0], datetime.now(UTC))
    text = json.dumps(everything)
    assert OLIVIA.phone not in text and PETE.phone not in text and PROVIDER.phone not in text


def test_call_history_refusals(aws: EmbeddedAws, store: DynamoAdminStore) -> None:  # noqa: F811
    assert call("GET", "/calls?provider=prov-nobody")[0] == 404
    assert call("GET", f"/calls?provider={PROVIDER.provider_id}&client=cl-nobody")[0] == 404
    assert call("GET", "/calls")[0] == 422
    assert call("GET", f"/calls?provider={PROVIDER.provider_id}&limit=0")[0] == 422
    assert call("GET", f"/calls?provider={PROVIDER.provider_id}", key=None)[0] == 403
