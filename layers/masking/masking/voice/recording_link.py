"""Signed, expiring links to a voicemail (``GET /voicemail/{call}?expires=&sig=``).

Twilio's recording media need the account's credentials (HTTP Basic auth is enforced on
media URLs, mandatory for accounts created after 2023-07-31:
https://support.twilio.com/hc/en-us/articles/15827821586843), so the provider never gets
Twilio's URL. The SMS carries a link to our own route instead; the route checks the
signature and the expiry, then fetches the recording with the credentials
(``masking.handlers.voicemail``).

The signature is HMAC-SHA256 over ``<call sid>.<expires>`` with a key derived from the
Twilio auth token (``HMAC(auth token, "masking voicemail link v1")``): whoever holds the
token can fetch every recording anyway, so the derived key grants nothing new, needs no
secret of its own, and a rotated token retires every outstanding link.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode

from masking.voice.twiml import RECORDING_LINK_PATH

_CONTEXT = b"masking voicemail link v1"


def item_key(auth_token: str) -> bytes:
    return hmac.new(auth_token.encode(), _CONTEXT, hashlib.sha256).digest()


def signature(auth_token: str, call_sid: str, expires: int) -> str:
    return hmac.new(item_key(auth_token), f"{call_sid}.{expires}".encode(), hashlib.sha256).hexdigest()


def recording_link(base: str, auth_token: str, call_sid: str, now: datetime, hours: int) -> str:
    expires = int((now + timedelta(hours=hours)).timestamp())
    query = urlencode({"expires": expires, "sig": signature(auth_token, call_sid, expires)})
    return f"{base.rstrip('/')}{RECORDING_LINK_PATH}/{call_sid}?{query}"


def link_is_valid(auth_token: str, call_sid: str, expires: str, sig: str, now: datetime) -> bool:
    """The link was signed by us for this call and has not expired (constant-time compare)."""
    if not auth_token or not expires.isdigit() or len(sig) != 64:
        return False
    if int(expires) <= int(now.timestamp()):
        return False
    return hmac.compare_digest(signature(auth_token, call_sid, int(expires)), sig.lower())
