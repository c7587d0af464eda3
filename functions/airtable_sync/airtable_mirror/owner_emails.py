"""The owner's provisioning emails and the new sitter's welcome text: every word of them
is here, nowhere else.

The emails go to the stack's owner topic (SNS, ``OWNER_ALERT_TOPIC_ARN``); the owner
address is the template's ``OwnerAlertEmail`` parameter, subscribed to that topic. SNS uses the
``Subject`` as the email's subject line: UTF-8, no line breaks or control characters, less
than 100 characters (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sns/aws.sdk.kotlin.services.sns.model/-publish-request/subject.html);
the ``Message`` is the body. Phone numbers
appear only in the emails (the owner's own inbox), never in a log line.

The welcome SMS text is ``WELCOME_SMS_TEXT`` when set (placeholders ``{name}`` and
``{number}``), else ``DEFAULT_WELCOME``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_WELCOME = (
    "Hi {name}, welcome! Your clients will see you as {number}. "
    "Text and call them from your own phone as usual: the service routes your replies "
    "through this number, so your own number stays private."
)


def _subject(text: str) -> str:
    """An SNS subject: one line, under 100 characters."""
    return "".join(ch if ch.isprintable() else " " for ch in text)[:99]


@dataclass(frozen=True, slots=True)
class OwnerEmail:
    kind: str  # path_a, path_b_pending, path_b_ready, failed, verification_failed
    subject: str
    body: str


def path_a_done(name: str, number: str) -> OwnerEmail:
    return OwnerEmail(
        "path_a",
        _subject(f"Sitter provisioned: {name}"),
        f"{name} is active with the standby number {number} (Path A). A replacement standby number is being bought.",
    )


def path_b_pending(name: str) -> OwnerEmail:
    return OwnerEmail(
        "path_b_pending",
        _subject(f"Buying a number for {name}"),
        f"No standby number was Ready, so a new number is being bought for {name} (Path B). Another email follows when it is Ready.",
    )


def path_b_ready(name: str, number: str) -> OwnerEmail:
    return OwnerEmail(
        "path_b_ready",
        _subject(f"Sitter number Ready: {name}"),
        f"The number {number} was bought, attached and verified; {name} is active (Path B).",
    )


def provisioning_failed(name: str, reason: str) -> OwnerEmail:
    return OwnerEmail(
        "failed",
        _subject(f"Provisioning failed: {name}"),
        f"{name} could not be provisioned: {reason}\nThe Sitters row says Error; fix it and set Provisioning Status back to Pending.",
    )


def verification_failed(name: str, number: str) -> OwnerEmail:
    return OwnerEmail(
        "verification_failed",
        _subject(f"Number failed verification: {number}"),
        f"The number {number} bought for {name} failed attach or verification and is marked Failed in Number Inventory. "
        "Set the Sitters row back to Pending to try another number.",
    )


def welcome_text(name: str, number: str, template: str | None = None) -> str:
    text = template if template is not None else os.environ.get("WELCOME_SMS_TEXT") or DEFAULT_WELCOME
    first = (name or "").split(" ")[0] or "there"
    return text.replace("{name}", first).replace("{number}", number)
