"""Content guard: phone numbers, email addresses and (optionally) links in a forwarded body.

Masking is pointless when a client types their real number into the first message. The
guard finds contact details and the router applies the deployment's policy
(``PrivacySettings.content_guard``): ``off``, ``flag`` (forward, audit, count), ``redact``
(replace them, tell the sender once per lease) or ``block`` (not forwarded, the sender is
told). Numbers of our own (reserved and pool numbers) are never reported.

Phone numbers are found with libphonenumber's ``PhoneNumberMatcher`` (leniency VALID), not
a home-made pattern. It is imported only for a body that has seven digits close together,
so most messages, and the webhook's cold start, never pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from masking.core.records import FrozenRecord, Record

FindingKind = Literal["phone", "email", "url"]

# seven digits, each at most three characters from the next: the shortest phone number
# worth a look ("303 555 0123", "3.0.3.5.5.5.0.1.2.3", "(720)555-0199")
_DIGITS = re.compile(r"\d(?:\D{0,3}\d){6}")
# bounded parts, so no input makes the pattern backtrack for long
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,6}\.[A-Za-z]{2,24}")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]{1,2000}", re.IGNORECASE)
MAX_PHONE_TRIES = 65  # PhoneNumberMatcher's own default cap on candidates per text

REPLACEMENT: dict[FindingKind, str] = {"phone": "[number removed]", "email": "[email removed]", "url": "[link removed]"}


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class Finding(FrozenRecord):
    """A phone number, an email or a link found in a body: its kind and where it is."""

    kind: FindingKind
    start: int
    end: int


@dataclass(slots=True, repr=False, eq=False)
class GuardResult(Record):
    """What the guard found in one body (false when nothing)."""

    findings: list[Finding] = field(default_factory=list)
    own_numbers: int = 0  # numbers of ours that were found and left alone

    def __bool__(self) -> bool:
        return bool(self.findings)

    @property
    def kinds(self) -> list[str]:
        return sorted({str(finding.kind) for finding in self.findings})

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for finding in self.findings:
            totals[finding.kind] = totals.get(finding.kind, 0) + 1
        return totals


def region_of(e164: str) -> str:
    """The ISO region of an E.164 number ("US" for +1 303...). A number no region claims
    (test ranges like +1 555) gets its calling code's main region; "ZZ" when unknown."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "ZZ"
    return phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(parsed.country_code or 0)


def _phones(body: str, region: str, is_ours: Callable[[str], bool]) -> tuple[list[Finding], int]:
    import phonenumbers

    if region.startswith("+"):
        region = region_of(region)

    findings: list[Finding] = []
    own = 0
    for match in phonenumbers.PhoneNumberMatcher(body, region, max_tries=MAX_PHONE_TRIES):
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        if is_ours(e164):
            own += 1
            continue
        findings.append(Finding("phone", match.start, match.end))
    return findings, own


def scan(body: str, region: str = "US", *, urls: bool = False, is_ours: Callable[[str], bool] = lambda _: False) -> GuardResult:
    """The contact details in ``body``, in order. ``region`` (an ISO region, or one of our
    E.164 numbers to take its region) reads national numbers: "303-555-0123" is a US number
    for a US deployment."""
    result = GuardResult()
    if not body:
        return result
    if urls and ("http" in (lower := body.lower()) or "www." in lower):
        result.findings.extend(Finding("url", m.start(), m.end()) for m in _URL.finditer(body))
    if "@" in body:
        result.findings.extend(Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(body))
    if _DIGITS.search(body):
        phones, result.own_numbers = _phones(body, region, is_ours)
        taken = result.findings
        # a number inside a link or an address already found is part of it
        result.findings.extend(p for p in phones if not any(t.start <= p.start < t.end for t in taken))
    result.findings.sort(key=lambda finding: finding.start)
    return result


def redact(body: str, result: GuardResult) -> str:
    """``body`` with every finding replaced ("[number removed]"...); overlaps merged."""
    pieces: list[str] = []
    position = 0
    for finding in result.findings:
        if finding.start < position:
            continue
        pieces.append(body[position : finding.start])
        pieces.append(REPLACEMENT[finding.kind])
        position = finding.end
    pieces.append(body[position:])
    return "".join(pieces)
