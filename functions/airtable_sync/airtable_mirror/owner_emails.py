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


# kind -> (subject, body), with the placeholders {name}, {number} and {reason}.
TEMPLATES: dict[str, tuple[str, str]] = {
    "path_a": (
        "Sitter provisioned: {name}",
        "{name} is active with the standby number {number} (Path A). A replacement standby number is being bought.",
    ),
    "path_b_pending": (
        "Buying a number for {name}",
        "No standby number was Ready, so a new number is being bought for {name} (Path B). Another email follows when it is Ready.",
    ),
    "path_b_ready": (
        "Sitter number Ready: {name}",
        "The number {number} was bought, attached and verified; {name} is active (Path B).",
    ),
    "failed": (
        "Provisioning failed: {name}",
        "{name} could not be provisioned: {reason}\nThe Sitters row says Error; fix it and set Provisioning Status back to Pending.",
    ),
    "verification_failed": (
        "Number failed verification: {number}",
        "The number {number} bought for {name} failed attach or verification and is marked Failed in Number Inventory. "
        "Set the Sitters row back to Pending to try another number.",
    ),
}


@dataclass(frozen=True, slots=True)
class OwnerEmail:
    kind: str  # a key of TEMPLATES
    subject: str
    body: str


def owner_email(kind: str, **values: str) -> OwnerEmail:
    """The email ``kind`` with its placeholders filled in (values are not read as templates)."""
    subject, body = TEMPLATES[kind]
    return OwnerEmail(kind, _subject(subject.format(**values)), body.format(**values))


def path_a_done(name: str, number: str) -> OwnerEmail:
    return owner_email("path_a", name=name, number=number)


def path_b_pending(name: str) -> OwnerEmail:
    return owner_email("path_b_pending", name=name)


def path_b_ready(name: str, number: str) -> OwnerEmail:
    return owner_email("path_b_ready", name=name, number=number)


def provisioning_failed(name: str, reason: str) -> OwnerEmail:
    return owner_email("failed", name=name, reason=reason)


def verification_failed(name: str, number: str) -> OwnerEmail:
    return owner_email("verification_failed", name=name, number=number)


def welcome_text(name: str, number: str, template: str | None = None) -> str:
    text = template if template is not None else os.environ.get("WELCOME_SMS_TEXT") or DEFAULT_WELCOME
    first = (name or "").split(" ")[0] or "there"
    return text.replace("{name}", first).replace("{number}", number)
