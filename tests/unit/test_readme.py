"""The README's curl lines must carry signatures the local runner accepts."""

from __future__ import annotations

import re

from local.apigw import twilio_signature
from local.backends import DEMO_AUTH_TOKEN
from tests.support import ROOT

CURL = re.compile(r"curl -s (?:-w '[^']*' )?(http://127\.0\.0\.1:3000/twilio/sms) \\\n(?P<args>(?:\s+.*\\\n)*\s+.*)")


def test_readme_curl_lines_are_signed_for_the_local_runner() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = list(CURL.finditer(readme))
    assert len(blocks) >= 2, "the quick start shows both directions"
    for block in blocks:
        args = block.group("args")
        signature = re.search(r'-H "X-Twilio-Signature: ([^"]+)"', args)
        params = dict(re.findall(r'--data-urlencode "([^=]+)=([^"]*)"', args))
        assert signature and params
        assert twilio_signature(DEMO_AUTH_TOKEN, block.group(1), params) == signature.group(1), params
