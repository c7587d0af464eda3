"""``read_secure_parameters``: a parameter SSM answered without is a clear error naming it,
for every caller (the Twilio credentials as much as the Airtable token)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters

from masking.adapters.secrets import load_twilio_credentials, read_secure_parameters


def answering(values: dict[str, str]) -> Any:
    def get_parameters_by_name(parameters: dict[str, Any], **_: Any) -> dict[str, str]:
        return {name: values[name] for name in parameters if name in values}

    return get_parameters_by_name


def test_every_parameter_answered_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parameters, "get_parameters_by_name", answering({"/m/a": "1", "/m/b": "2"}))
    assert read_secure_parameters("/m/a", "/m/b") == {"/m/a": "1", "/m/b": "2"}


def test_a_parameter_answered_without_a_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parameters, "get_parameters_by_name", answering({"/masking/dev/twilio/account_sid": "AC1"}))
    with pytest.raises(RuntimeError, match="SSM answered without /masking/dev/twilio/auth_token"):
        load_twilio_credentials("/masking/dev")
