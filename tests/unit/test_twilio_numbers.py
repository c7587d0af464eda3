"""TwilioGateway number management against the in-memory SandboxHttpClient (real twilio library requests)."""

from __future__ import annotations

import threading

import pytest

from masking.adapters.twilio_gateway import TwilioGateway
from masking.adapters.twilio_sandbox import SandboxHttpClient, SandboxSms
from masking.core.models import OutboundSms
from masking.core.ports import SendError, TwilioError

ACCOUNT_SID = "AC" + "0" * 32
SERVICE_SID = "MG" + "1" * 32
SMS_URL = "https://api.example.com/twilio/sms"
VOICE_URL = "https://api.example.com/twilio/voice"


def make(available: dict[str, int] | None = None) -> tuple[TwilioGateway, SandboxHttpClient]:
    sandbox = SandboxHttpClient(available=available)
    return TwilioGateway.create(ACCOUNT_SID, "token", http_client=sandbox), sandbox


def test_search_returns_sms_and_voice_numbers_in_the_area_code() -> None:
    gateway, sandbox = make()

    numbers = gateway.search_local_numbers("303", limit=3)

    assert numbers == ["+13035555000", "+13035555001", "+13035555002"]
    request = sandbox.requests[-1]
    assert request.method == "GET"
    assert request.url.endswith(f"/Accounts/{ACCOUNT_SID}/AvailablePhoneNumbers/US/Local.json")
    assert request.params["AreaCode"] == 303
    assert request.params["SmsEnabled"] == "true"
    assert request.params["VoiceEnabled"] == "true"
    assert request.params["PageSize"] == 3


def test_search_default_inventory_covers_720_and_respects_the_count() -> None:
    gateway, sandbox = make()
    assert gateway.search_local_numbers("720")[0] == "+17205555000"
    assert len(gateway.search_local_numbers("720", limit=50)) == 20
    sandbox.set_available("720", 2)
    assert gateway.search_local_numbers("720", limit=50) == ["+17205555000", "+17205555001"]


def test_search_finds_nothing_where_twilio_has_nothing() -> None:
    gateway, sandbox = make({"303": 0})
    assert gateway.search_local_numbers("303") == []
    assert gateway.search_local_numbers("212") == []  # not listed: none
    sandbox.set_available("212", 1)
    assert gateway.search_local_numbers("212") == ["+12125555000"]


def test_buy_points_webhooks_at_us_and_the_next_search_offers_the_next_number() -> None:
    gateway, sandbox = make({"303": 3})
    [first] = gateway.search_local_numbers("303", limit=1)

    bought = gateway.buy_number(first, SMS_URL, VOICE_URL, status_callback="https://api.example.com/cb", friendly_name="pool 1")

    assert bought.number == "+13035555000"
    assert bought.sid.startswith("PN") and len(bought.sid) == 34
    resource = sandbox.numbers[bought.sid]
    assert resource["phone_number"] == bought.number
    assert (resource["sms_url"], resource["sms_method"]) == (SMS_URL, "POST")
    assert (resource["voice_url"], resource["voice_method"]) == (VOICE_URL, "POST")
    assert resource["status_callback"] == "https://api.example.com/cb"
    assert resource["friendly_name"] == "pool 1"
    assert sandbox.bought == ["+13035555000"]
    assert gateway.search_local_numbers("303") == ["+13035555001", "+13035555002"]


def test_buying_an_unavailable_number_fails_with_21422() -> None:
    gateway, sandbox = make({"303": 1})
    gateway.buy_number("+13035555000", SMS_URL, VOICE_URL)

    for number in ("+13035555000", "+13035555001", "+12125555000", "+15551234567"):
        with pytest.raises(SendError) as caught:
            gateway.buy_number(number, SMS_URL, VOICE_URL)
        assert caught.value.code == 21422
        assert caught.value.status == 400
        assert not caught.value.permanent  # send-permanence is about SMS only
    assert len(sandbox.numbers) == 1
    assert gateway.search_local_numbers("303") == []


def test_configure_updates_the_webhooks() -> None:
    gateway, sandbox = make()
    bought = gateway.buy_number("+13035555000", "https://old/sms", "https://old/voice")

    gateway.configure_number(bought.sid, SMS_URL, VOICE_URL)

    resource = sandbox.numbers[bought.sid]
    assert (resource["sms_url"], resource["voice_url"]) == (SMS_URL, VOICE_URL)
    assert sandbox.requests[-1].method == "POST"
    assert sandbox.requests[-1].url.endswith(f"/IncomingPhoneNumbers/{bought.sid}.json")


def test_configure_unknown_number_fails_with_20404() -> None:
    gateway, _ = make()
    with pytest.raises(TwilioError) as caught:
        gateway.configure_number("PN" + "f" * 32, SMS_URL, VOICE_URL)
    assert (caught.value.code, caught.value.status) == (20404, 404)


def test_add_to_messaging_service_records_membership_and_is_idempotent() -> None:
    gateway, sandbox = make()
    bought = gateway.buy_number("+13035555000", SMS_URL, VOICE_URL)

    gateway.add_to_messaging_service(SERVICE_SID, bought.sid)
    gateway.add_to_messaging_service(SERVICE_SID, bought.sid)  # 21710 counts as success

    assert sandbox.messaging_services == {SERVICE_SID: {bought.sid}}
    posts = [r for r in sandbox.requests if r.url == f"https://messaging.twilio.com/v1/Services/{SERVICE_SID}/PhoneNumbers"]
    assert [r.data for r in posts] == [{"PhoneNumberSid": bought.sid}] * 2


def test_add_to_messaging_service_surfaces_real_failures() -> None:
    gateway, _ = make()
    bought = gateway.buy_number("+13035555000", SMS_URL, VOICE_URL)
    gateway.add_to_messaging_service(SERVICE_SID, bought.sid)

    with pytest.raises(SendError) as other_service:
        gateway.add_to_messaging_service("MG" + "2" * 32, bought.sid)
    assert other_service.value.code == 21712
    with pytest.raises(SendError) as unknown:
        gateway.add_to_messaging_service(SERVICE_SID, "PN" + "f" * 32)
    assert unknown.value.code == 21421


def test_release_removes_the_number_and_its_service_membership() -> None:
    gateway, sandbox = make({"303": 5})
    bought = gateway.buy_number("+13035555000", SMS_URL, VOICE_URL)
    gateway.add_to_messaging_service(SERVICE_SID, bought.sid)

    gateway.release_number(bought.sid)

    assert sandbox.numbers == {}
    assert sandbox.messaging_services[SERVICE_SID] == set()
    assert sandbox.requests[-1].method == "DELETE"
    assert sandbox.bought == ["+13035555000"]  # history is kept; a released number is not offered again
    assert gateway.search_local_numbers("303", limit=1) == ["+13035555001"]
    with pytest.raises(SendError) as again:
        gateway.release_number(bought.sid)
    assert again.value.code == 20404


def test_fail_next_matching_affects_only_the_matching_request() -> None:
    gateway, sandbox = make()
    sandbox.fail_next_matching("/Messages.json", 30003)

    bought = gateway.buy_number("+13035555000", SMS_URL, VOICE_URL)  # not a Messages request: unaffected
    gateway.add_to_messaging_service(SERVICE_SID, bought.sid)
    with pytest.raises(SendError) as caught:
        gateway.send_sms(OutboundSms(to_phone="+15550001111", from_number=bought.number, body="verify"))
    assert caught.value.code == 30003
    assert sandbox.sent == []
    gateway.send_sms(OutboundSms(to_phone="+15550001111", from_number=bought.number, body="verify"))  # only once
    assert [s.body for s in sandbox.sent] == ["verify"]


def test_fail_next_matching_can_fail_a_search_and_a_method() -> None:
    gateway, sandbox = make()
    sandbox.fail_next_matching("AvailablePhoneNumbers", 20429)
    with pytest.raises(SendError) as caught:
        gateway.search_local_numbers("303")
    assert caught.value.code == 20429
    assert gateway.search_local_numbers("303")

    sandbox.fail_next_matching("IncomingPhoneNumbers", 20500, method="DELETE")
    bought = gateway.buy_number("+13035555000", SMS_URL, VOICE_URL)
    with pytest.raises(SendError):
        gateway.release_number(bought.sid)
    gateway.release_number(bought.sid)
    assert sandbox.numbers == {}


def test_fail_next_still_fails_any_request() -> None:
    gateway, sandbox = make()
    sandbox.fail_next(21422)
    with pytest.raises(SendError) as caught:
        gateway.search_local_numbers("303")
    assert caught.value.code == 21422
    sandbox.fail_next(20500)
    with pytest.raises(SendError) as buy_failed:
        gateway.buy_number("+13035555000", SMS_URL, VOICE_URL)
    assert (buy_failed.value.code, buy_failed.value.status) == (20500, 500)  # as Twilio answers a 20500
    assert sandbox.numbers == {}
    assert gateway.buy_number("+13035555000", SMS_URL, VOICE_URL).number == "+13035555000"


def test_sms_sending_is_still_recorded() -> None:
    seen: list[SandboxSms] = []
    sandbox = SandboxHttpClient(on_send=seen.append)
    gateway = TwilioGateway.create(ACCOUNT_SID, "token", http_client=sandbox)
    bought = gateway.buy_number("+13035555000", SMS_URL, VOICE_URL)

    sent = gateway.send_sms(OutboundSms(to_phone="+15550001111", from_number=bought.number, body="hello"), status_callback="https://cb")

    [sms] = sandbox.sent
    assert seen == [sms]
    assert (sms.sid, sms.from_number, sms.to_phone, sms.body, sms.status_callback) == (
        sent.sid,
        "+13035555000",
        "+15550001111",
        "hello",
        "https://cb",
    )
    assert sent.status == "queued"


def test_concurrent_purchases_never_sell_the_same_number_twice() -> None:
    gateway, sandbox = make({"303": 8})
    results: list[str] = []
    errors: list[int | None] = []
    lock = threading.Lock()

    def buy() -> None:
        try:
            number = gateway.buy_number("+13035555000", SMS_URL, VOICE_URL).number
            with lock:
                results.append(number)
        except SendError as exc:
            with lock:
                errors.append(exc.code)

    threads = [threading.Thread(target=buy) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == ["+13035555000"]
    assert errors == [21422] * 7
    assert len(sandbox.numbers) == 1
