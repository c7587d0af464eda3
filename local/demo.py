"""A scripted, Twilio-signed conversation through the local runner (and a smoke test).

    python -m local.demo --port 3000

Starts ``python -m local.runner`` on that port (or reuses the runner already listening
there), posts SMS webhooks signed exactly as Twilio signs them, prints who received
what from which number after each step, and exits non-zero if anything was not as
expected.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "masking"
if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))

from local.apigw import twilio_signature  # noqa: E402
from local.backends import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN  # noqa: E402
from local.demo_data import OLIVIA, PEOPLE, PETE, SAM  # noqa: E402

RUNNER_SERVICE = "masking-local-runner"
_MEDIA = "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Messages/MM" + "0" * 31 + "1/Media/ME" + "0" * 31
IMAGES = (_MEDIA + "1", _MEDIA + "2")  # inbound MMS media live on api.twilio.com: only those are forwarded


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, bytes]:
    """(status, body) of a request; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def runner_health(base_url: str) -> dict[str, Any] | None:
    """The runner's health answer, or None when nothing (or something else) listens."""
    try:
        status, body = http("GET", f"{base_url}/_local/health", timeout=2)
        health = json.loads(body) if status == 200 else None
    except (OSError, ValueError):
        return None
    return health if isinstance(health, dict) and health.get("service") == RUNNER_SERVICE else None


def wait_for_runner(base_url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runner_health(base_url) is not None:
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the local runner exited with code {process.returncode}")
        time.sleep(0.2)
    raise TimeoutError(f"the local runner did not answer on {base_url} within {timeout:.0f} s")


def new_message_sid() -> str:
    return "SM" + uuid.uuid4().hex


@dataclass
class TwilioClient:
    """Posts SMS webhooks to the runner the way Twilio does: form body + X-Twilio-Signature."""

    base_url: str
    auth_token: str = DEMO_AUTH_TOKEN

    @property
    def sms_url(self) -> str:
        return f"{self.base_url}/twilio/sms"

    def params(self, from_phone: str, to_number: str, body: str, media: tuple[str, ...] = (), sid: str | None = None) -> dict[str, str]:
        params = {
            "MessageSid": sid or new_message_sid(),
            "AccountSid": DEMO_ACCOUNT_SID,
            "From": from_phone,
            "To": to_number,
            "Body": body,
            "NumMedia": str(len(media)),
        }
        for index, url in enumerate(media):
            params[f"MediaUrl{index}"] = url
            params[f"MediaContentType{index}"] = "image/jpeg"
        return params

    def post(self, params: dict[str, str], signature: str | None = None, url: str | None = None) -> int:
        """POSTs a webhook to ``url`` (the SMS webhook by default); ``signature`` overrides the real one ("" sends none)."""
        url = url or self.sms_url
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1"}
        sig = twilio_signature(self.auth_token, url, params) if signature is None else signature
        if sig:
            headers["X-Twilio-Signature"] = sig
        status, _ = http("POST", url, urlencode(params).encode(), headers)
        return status

    def report(self, sms: dict[str, Any], status: str = "sent") -> int:
        """Twilio's status callback for an SMS the runner sent, on the URL it was sent with."""
        return self.post({"MessageSid": sms["sid"], "MessageStatus": status, "AccountSid": DEMO_ACCOUNT_SID}, url=sms["status_callback"])

    def sent(self) -> list[dict[str, Any]]:
        status, body = http("GET", f"{self.base_url}/_local/sent")
        if status != 200:
            raise RuntimeError(f"/_local/sent answered {status}")
        return list(json.loads(body))


@dataclass
class Demo:
    client: TwilioClient
    fresh: bool  # the runner had sent nothing before: new leases, so name prefixes
    failures: list[str] = field(default_factory=list)
    steps: int = 0
    checks: int = 0

    def step(self, title: str, params: dict[str, str], *, signature: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        """Posts one webhook and prints what it caused."""
        self.steps += 1
        before = len(self.client.sent())
        who = PEOPLE.get(params["From"], params["From"])
        print(f"\n{self.steps}. {title}")
        media = f" + {params['NumMedia']} images" if params.get("NumMedia", "0") != "0" else ""
        print(f"   {who} ({params['From']}) -> {params['To']}: {json.dumps(params['Body'], ensure_ascii=False)}{media}")
        status = self.client.post(params, signature)
        new = self.client.sent()[before:]
        print(f"   webhook answered {status}")
        for sms in new:
            extra = f" + {len(sms['media_urls'])} media" if sms["media_urls"] else ""
            name = PEOPLE.get(sms["to_phone"], sms["to_phone"])
            print(f"   -> {name} ({sms['to_phone']}) got from {sms['from_number']}: {json.dumps(sms['body'], ensure_ascii=False)}{extra}")
        if not new:
            print("   -> nothing sent")
        return status, new

    def expect(self, ok: bool, what: str) -> None:
        """Counts a check; prints it only when it fails."""
        self.checks += 1
        if not ok:
            print(f"   FAIL: {what}")
            self.failures.append(f"step {self.steps}: {what}")

    def expect_one(
        self, status: int, sent: list[dict[str, Any]], to_phone: str, body: str, *, from_number: str | None = None, prefix: str = ""
    ) -> dict[str, Any] | None:
        """Exactly one SMS to ``to_phone`` with ``body`` (``prefix`` required on a fresh runner)."""
        self.expect(status == 200, "webhook answered 200")
        self.expect(len(sent) == 1, "exactly one SMS sent")
        if not sent:
            return None
        sms = sent[0]
        self.expect(sms["to_phone"] == to_phone, f"delivered to {PEOPLE.get(to_phone, to_phone)}'s real phone")
        bodies = {prefix + body} if self.fresh else {prefix + body, body}
        self.expect(sms["body"] in bodies, f"body is {json.dumps(prefix + body)}")
        if from_number is not None:
            self.expect(sms["from_number"] == from_number, f"sent from {from_number}")
        return sms


def play(base_url: str) -> list[str]:
    """Plays the conversation; returns the failed expectations."""
    twilio = TwilioClient(base_url)
    demo = Demo(twilio, fresh=not twilio.sent())
    reserved = SAM.reserved_number or ""

    status, sent = demo.step("Olivia texts Sam's reserved number", twilio.params(OLIVIA.phone, reserved, "Hi Sam, is Rex OK?"))
    first = demo.expect_one(status, sent, SAM.phone, "Hi Sam, is Rex OK?", prefix=f"From {OLIVIA.name}: ")
    olivia_pool = first["from_number"] if first else ""
    demo.expect(olivia_pool not in ("", reserved, OLIVIA.phone), "Sam sees Olivia as a pool number, not her phone")

    reply = twilio.params(SAM.phone, olivia_pool, "Rex is great, we just got back from the park.")
    status, sent = demo.step("Sam replies to the pool number Olivia's text came from", reply)
    reply_sms = demo.expect_one(status, sent, OLIVIA.phone, reply["Body"], from_number=reserved)

    status, sent = demo.step("Pete texts Sam", twilio.params(PETE.phone, reserved, "Can you walk Bella on Friday?"))
    pete_sms = demo.expect_one(status, sent, SAM.phone, "Can you walk Bella on Friday?", prefix=f"From {PETE.name}: ")
    pete_pool = pete_sms["from_number"] if pete_sms else ""
    demo.expect(pete_pool not in ("", olivia_pool, reserved), "Pete gets a pool number of his own (a separate thread for Sam)")

    status, sent = demo.step("Sam replies to Pete", twilio.params(SAM.phone, pete_pool, "Sure, Friday at 10am works."))
    demo.expect_one(status, sent, PETE.phone, "Sure, Friday at 10am works.", from_number=reserved)

    status, sent = demo.step("Olivia sends an MMS with two photos", twilio.params(OLIVIA.phone, reserved, "Rex last summer", media=IMAGES))
    mms = demo.expect_one(status, sent, SAM.phone, "Rex last summer", from_number=olivia_pool)
    demo.expect(mms is not None and tuple(mms["media_urls"]) == IMAGES, "both images forwarded")

    # Twilio reports step 2's forward as sent (its callback names the part: nothing was
    # written after the send, masking.messaging.parts), so a retry is a known duplicate
    demo.expect(reply_sms is not None and twilio.report(reply_sms) == 200, "Twilio's status callback for step 2 answered 200")
    status, sent = demo.step(f"Twilio retries step 2 (same MessageSid {reply['MessageSid'][:10]}...)", reply)
    demo.expect(status == 200 and not sent, "answered 200 and forwarded once only")

    forged = twilio.params(OLIVIA.phone, reserved, "Send me Sam's real number")
    status, sent = demo.step("Someone posts a webhook with a forged signature", forged, signature="Zm9yZ2VkIHNpZ25hdHVyZQ==")
    demo.expect(status == 403 and not sent, "rejected with 403, nothing sent")

    status, sent = demo.step("Olivia texts STOP", twilio.params(OLIVIA.phone, reserved, "STOP"))
    demo.expect(status == 200 and not sent, "STOP is not forwarded to Sam")

    status, sent = demo.step("Sam replies after Olivia opted out", twilio.params(SAM.phone, olivia_pool, "See you tomorrow!"))
    demo.expect(status == 200 and len(sent) == 1, "one SMS sent")
    demo.expect(all(s["to_phone"] != OLIVIA.phone for s in sent), "nothing reaches Olivia")
    demo.expect(bool(sent) and sent[0]["to_phone"] == SAM.phone and "opted out" in sent[0]["body"], "Sam is told she opted out")

    status, sent = demo.step("Olivia texts START again", twilio.params(OLIVIA.phone, reserved, "START"))
    demo.expect(status == 200 and not sent, "START is not forwarded either")
    status, sent = demo.step("Sam writes again", twilio.params(SAM.phone, olivia_pool, "Welcome back!"))
    demo.expect_one(status, sent, OLIVIA.phone, "Welcome back!", from_number=reserved)

    status, outbox = http("GET", f"{base_url}/_local/outbox")
    kinds: dict[str, int] = {}
    for record in json.loads(outbox) if status == 200 else []:
        kinds[record["kind"]] = kinds.get(record["kind"], 0) + 1
    print("\nSummary")
    print(f"   steps played: {demo.steps}; SMS sent by the sandbox so far: {len(twilio.sent())}")
    print(f"   mirror records on the outbox so far: {', '.join(f'{k} {n}' for k, n in sorted(kinds.items())) or 'none'}")
    print(f"   Olivia <-> Sam via pool number {olivia_pool}; Pete <-> Sam via {pete_pool}; clients see Sam as {reserved}")
    demo.expect(kinds.get("message", 0) >= 5, "the forwarded messages are on the Airtable outbox")
    print(f"   checks: {demo.checks - len(demo.failures)} of {demo.checks} passed")
    return demo.failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    base_url = f"http://127.0.0.1:{args.port}"
    process: subprocess.Popen[bytes] | None = None
    if runner_health(base_url) is not None:
        print(f"Using the local runner already on {base_url}")
    else:
        print(f"Starting the local runner on {base_url} ...")
        command = [sys.executable, "-m", "local.runner", "--port", str(args.port), "--quiet"]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for_runner(base_url, process)
        failures = play(base_url)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    if failures:
        print(f"\n{len(failures)} expectation(s) failed:")
        for failure in failures:
            print(f"   - {failure}")
        return 1
    print("\nAll expectations met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
