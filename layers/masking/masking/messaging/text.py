"""What an SMS says rather than where it goes: keywords, the service's own replies, and
splitting a long body into parts Twilio accepts."""

from __future__ import annotations

from typing import Literal

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "END", "CANCEL", "QUIT", "OPTOUT", "REVOKE"})

OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})

OPT_IN_WHEN_OPTED_OUT = frozenset({"YES"})  # "yes" is an everyday answer: a keyword only after a STOP

HELP_KEYWORDS = frozenset({"HELP", "INFO"})

Keyword = Literal["stop", "start", "help"] | None

HELP_TO_CLIENT = "You are texting {provider} through a private number. Msg&data rates may apply. Reply STOP to opt out."

HELP_TO_PROVIDER = "This number relays your texts to {client}. Replies from them arrive here. Reply STOP to stop messages from this number."

HELP_TO_PROVIDER_NO_LEASE = "This number relays texts between you and your clients. It has no open conversation right now."

EXPIRED_SMS_TO_PROVIDER = "This conversation has expired, so your message was not delivered. It reopens when your client texts you again."

CLIENT_OPTED_OUT_TO_PROVIDER = "{client} has opted out of text messages, so your message was not delivered."

OWN_NUMBER_TO_PROVIDER = "This is your own masked number, so nothing was forwarded. To text a client, reply in that client's thread."


def classify_keyword(body: str, opted_out: bool = False) -> Keyword:
    word = body.strip().rstrip(".!").upper()
    if word in OPT_OUT_KEYWORDS:
        return "stop"
    if word in OPT_IN_KEYWORDS or (opted_out and word in OPT_IN_WHEN_OPTED_OUT):
        return "start"
    if word in HELP_KEYWORDS:
        return "help"
    return None


def utf16_units(text: str) -> int:
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def split_body(text: str, limit: int = 1600) -> list[str]:
    """Splits a body into parts Twilio accepts (``limit`` UTF-16 units each).

    The parts joined give the text back exactly; cuts fall on whitespace where one is
    in the second half of a part, and never inside a surrogate pair.
    """
    parts: list[str] = []
    while utf16_units(text) > limit:
        units = 0
        cut = 0
        for index, char in enumerate(text):
            units += 2 if ord(char) > 0xFFFF else 1
            if units > limit:
                cut = index
                break
        space = max(text.rfind(" ", 0, cut), text.rfind("\n", 0, cut))
        if space >= cut // 2:
            cut = space + 1
        parts.append(text[:cut])
        text = text[cut:]
    parts.append(text)
    return parts
