"""The sandbox never sells a number that is a real phone of the demo or the tests.

If it did, a bought pool or reserved number could equal a party's own phone, and the
router would take that party's texts for masked traffic. The README's Local runner section
documents the ranges: real phones are 555-0100 .. 555-2999, numbers for sale 555-5000 and up.
"""

from __future__ import annotations

from local import demo_data
from local.backends import VERIFICATION_PHONE
from masking.adapters.twilio_sandbox import DEFAULT_SANDBOX_AVAILABLE, SandboxHttpClient
from tests import support

REAL_PHONES = {
    *(party.phone for party in (*demo_data.PROVIDERS, *demo_data.CLIENTS)),
    VERIFICATION_PHONE,
    *(party.phone for party in (support.PROVIDER, support.OTHER_PROVIDER, support.OLIVIA, support.PETE)),
    support.VERIFY_PHONE,
}
SEEDED_TWILIO_NUMBERS = {
    *(number.number for number in demo_data.demo_numbers()),
    *(p.reserved_number or "" for p in (support.PROVIDER, support.OTHER_PROVIDER)),
    *support.POOL,
}


def everything_for_sale(area_codes: set[str]) -> set[str]:
    """Every number the sandbox could ever offer in these area codes (no limit on stock)."""
    sandbox = SandboxHttpClient(available={area: 10_000 for area in area_codes})
    return {number for area in area_codes for number in sandbox.offered(area)}


def test_numbers_for_sale_are_disjoint_from_every_seeded_real_phone() -> None:
    assert len(REAL_PHONES) >= 5  # Sam, Kim, Olivia, Pete and the verification phone (the tests use the same)
    areas = {phone[2:5] for phone in REAL_PHONES | SEEDED_TWILIO_NUMBERS} | set(DEFAULT_SANDBOX_AVAILABLE)
    for_sale = everything_for_sale(areas)

    assert len(for_sale) >= 1000 * len(areas)  # the sandbox does sell in every one of these area codes
    assert sorted(REAL_PHONES & for_sale) == []
    assert sorted(SEEDED_TWILIO_NUMBERS & for_sale) == []  # nor a number the demo or the tests already own


def test_the_first_number_for_sale_is_line_5000() -> None:
    sandbox = SandboxHttpClient()
    assert sandbox.offered("303")[:2] == ["+13035555000", "+13035555001"]
    assert sandbox.offered("720")[0] == "+17205555000"
