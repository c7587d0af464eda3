"""(h) Content guard: the cost of scanning one forwarded body, in microseconds.

10,000 bodies shaped like a sitter's and a pet owner's texts (seeded, reproducible): most
are plain words, some carry times, prices, addresses and order numbers (digits that are
not phone numbers), about one in ten has a phone number typed the ways people type them,
a few an email address or a link. Each body is scanned as the router scans it (links on,
our own numbers checked against a set), after one untimed scan that loads libphonenumber.
Target: p99 under 0.5 ms, so the warm webhook stays under 2 ms.
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench import Target, percentile, print_figures

BODIES = 10_000
SEED = 16

TARGETS: dict[str, Target] = {
    "scan_p50_us": None,
    "scan_p99_us": ("<=", 500.0),
    "scan_max_us": None,
    "with_number_p99_us": None,
    "bodies_flagged": None,
    "bodies": None,
}
SUMMARY = ["scan_p50_us", "scan_p99_us", "with_number_p99_us"]

TEXT = (
    "Rex walked great today ate all his food and napped on the couch Luna was a bit shy but warmed up "
    "thanks so much see you tomorrow morning can you also water the plants please the key is under the mat "
    "running ten minutes late sorry all good here sending a photo soon"
)
WORDS = tuple(TEXT.split())
DIGIT_SNIPPETS = ("at 10:30", "$45.00 for 2 walks", "Order 12345678", "1234 Elm St", "gate code 4821", "on 11/28", "3 cups", "2-3pm")
PHONE_FORMATS = ("303-555-{0}", "(720) 555-{0}", "303.555.{0}", "+1 303 555 {0}", "3035550{1}", "+44 7400 123{1}", "3 0 3 5 5 5 {2}")
EMAILS = ("olivia.owner@example.com", "sam+walks@sitter.co")
LINKS = ("https://example.com/rex.jpg", "www.example.org/booking")


def realistic_bodies(count: int, rng: random.Random) -> list[str]:
    bodies = []
    for _ in range(count):
        words = rng.choices(WORDS, k=rng.randint(3, 40))
        roll = rng.random()
        if roll < 0.20:
            words.insert(rng.randrange(len(words) + 1), rng.choice(DIGIT_SNIPPETS))
        elif roll < 0.30:
            digits = f"{rng.randint(100, 199):04d}"
            phone = rng.choice(PHONE_FORMATS).format(digits, digits[-3:], " ".join(digits))
            words.insert(rng.randrange(len(words) + 1), f"call me at {phone}")
        elif roll < 0.34:
            words.append(rng.choice(EMAILS))
        elif roll < 0.38:
            words.append(rng.choice(LINKS))
        bodies.append(" ".join(words))
    return bodies


def main() -> dict[str, Any]:
    from masking.messaging.content_guard import scan

    ours = {"+17205550001", "+17205550100"}
    bodies = realistic_bodies(BODIES, random.Random(SEED))
    scan("warm up 303-555-0100", "US", urls=True, is_ours=ours.__contains__)  # loads libphonenumber
    timings: list[float] = []
    with_number: list[float] = []
    flagged = 0
    for body in bodies:
        started = time.perf_counter_ns()
        result = scan(body, "US", urls=True, is_ours=ours.__contains__)
        elapsed = (time.perf_counter_ns() - started) / 1000
        timings.append(elapsed)
        if "call me" in body:
            with_number.append(elapsed)
        flagged += bool(result)
    figures = {
        "scan_p50_us": round(percentile(timings, 50), 1),
        "scan_p99_us": round(percentile(timings, 99), 1),
        "scan_max_us": round(max(timings), 1),
        "with_number_p99_us": round(percentile(with_number, 99), 1),
        "bodies_flagged": flagged,
        "bodies": len(bodies),
    }
    print_figures(f"(h) content guard, {BODIES} bodies", figures, TARGETS)
    return figures


if __name__ == "__main__":
    main()
