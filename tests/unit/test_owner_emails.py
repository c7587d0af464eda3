"""The owner's provisioning emails and the welcome text (airtable_mirror/owner_emails.py)."""

from __future__ import annotations

import pytest

from functions.airtable_sync.airtable_mirror import owner_emails


def test_subjects_are_one_line_under_100_characters_as_sns_requires() -> None:
    name = "Nina\nNewsitter " + "x" * 200
    emails = [
        owner_emails.path_a_done(name, "+17205550050"),
        owner_emails.path_b_pending(name),
        owner_emails.path_b_ready(name, "+17205550050"),
        owner_emails.provisioning_failed(name, "Phone Number: not a valid phone number"),
        owner_emails.verification_failed(name, "+17205550050"),
    ]

    assert len({e.kind for e in emails}) == 5
    assert all(len(e.subject) < 100 and "\n" not in e.subject for e in emails)
    assert "not a valid phone number" in emails[3].body


def test_the_welcome_text_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert owner_emails.welcome_text("Nina Newsitter", "+17205550050").startswith(
        "Hi Nina, welcome! Your clients will see you as +17205550050."
    )
    monkeypatch.setenv("WELCOME_SMS_TEXT", "{name}, your number is {number}")

    assert owner_emails.welcome_text("Nina Newsitter", "+17205550050") == "Nina, your number is +17205550050"
