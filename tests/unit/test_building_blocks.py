"""The small pieces: phone numbers, log masking, body splitting, keywords, URLs, settings."""

from __future__ import annotations

import logging

import pytest

from local.apigw import api_gateway_event
from masking.core.observability import PhoneMaskingFilter, mask_phone
from masking.core.phones import InvalidPhoneNumber, is_e164, normalize_e164
from masking.core.settings import (
    RoutingSettings,
    SettingsError,
    TwilioSettings,
    clear_settings_cache,
    get_aws_settings,
    get_routing_settings,
)
from masking.handlers.twilio_request import BadRequest, form_params, public_base_of, public_url
from masking.messaging.text import classify_keyword, split_body, utf16_units


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(303) 555-0100", "+13035550100"),
        ("303.555.0100", "+13035550100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("1-720-555-0100", "+17205550100"),
    ],
)
def test_normalize_e164(raw: str, expected: str) -> None:
    assert normalize_e164(raw) == expected


@pytest.mark.parametrize("raw", ["", "12", "555-0100", "not a phone", "+1 000 000 0000"])
def test_normalize_rejects_invalid_numbers(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_e164(raw)


def test_is_e164() -> None:
    assert is_e164("+13035550100")
    assert not is_e164("3035550100") and not is_e164("+0123") and not is_e164(None)


def test_mask_phone_and_log_filter() -> None:
    assert mask_phone("+13035550100") == "+1303***0100"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "from %s to +17205550001", ("+13035550100",), None)
    PhoneMaskingFilter().filter(record)
    assert record.getMessage() == "from +1303***0100 to +1720***0001"


def test_split_body_keeps_every_character_and_respects_the_limit() -> None:
    text = "word " * 500 + "🐕" * 300
    parts = split_body(text, 1600)
    assert "".join(parts) == text
    assert all(utf16_units(p) <= 1600 for p in parts)
    assert parts[0].endswith(" ")  # cut on whitespace


def test_split_body_never_cuts_a_surrogate_pair() -> None:
    text = "🐕" * 801  # 1602 UTF-16 units, no whitespace
    parts = split_body(text, 1600)
    assert parts == ["🐕" * 800, "🐕"]


@pytest.mark.parametrize(
    ("body", "opted_out", "expected"),
    [
        ("STOP", False, "stop"),
        (" stop. ", False, "stop"),
        ("Unsubscribe", False, "stop"),
        ("start", False, "start"),
        ("yes", False, None),
        ("yes", True, "start"),
        ("help", False, "help"),
        ("stop by at 5?", False, None),
    ],
)
def test_classify_keyword(body: str, opted_out: bool, expected: str | None) -> None:
    assert classify_keyword(body, opted_out) == expected


def test_public_url_from_the_api_gateway_event_includes_stage_and_query() -> None:
    event = api_gateway_event("POST", "https://abc.execute-api.us-east-1.amazonaws.com/twilio/sms/status?ref=SM1", stage="prod")
    assert public_url(event) == "https://abc.execute-api.us-east-1.amazonaws.com/prod/twilio/sms/status?ref=SM1"
    assert public_url(event, "https://sms.example.com") == "https://sms.example.com/twilio/sms/status?ref=SM1"
    assert public_base_of(event) == "https://abc.execute-api.us-east-1.amazonaws.com/prod"
    assert public_base_of(event, "https://sms.example.com/masking") == "https://sms.example.com/masking"


def test_form_params_keep_repeated_fields_and_reject_bad_bodies() -> None:
    event = api_gateway_event(
        "POST", "https://x/twilio/sms", body="A=1&A=2&B=", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form_params(event) == {"A": ["1", "2"], "B": [""]}
    event["headers"]["Content-Type"] = "application/json"
    with pytest.raises(BadRequest):
        form_params(event)


def test_settings_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="PREFIX_POLICY"):
        RoutingSettings(prefix_policy="sometimes")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        TwilioSettings(public_base_url="sms.example.com")
    monkeypatch.setenv("LEASE_TTL_DAYS", "fourteen")
    clear_settings_cache()
    with pytest.raises(SettingsError, match="LEASE_TTL_DAYS"):
        get_routing_settings()
    monkeypatch.delenv("TABLE_NAME", raising=False)
    with pytest.raises(SettingsError, match="TABLE_NAME"):
        get_aws_settings()
    monkeypatch.setenv("LEASE_TTL_DAYS", "7")
    monkeypatch.setenv("PREFIX_POLICY", "always")
    clear_settings_cache()
    try:
        assert get_routing_settings() == RoutingSettings(lease_ttl_days=7, prefix_policy="always")
    finally:
        clear_settings_cache()
