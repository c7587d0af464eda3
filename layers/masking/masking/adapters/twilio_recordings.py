"""Recording audio from Twilio, fetched with the account credentials (``RecordingFetcher``).

The media URL is ``https://api.twilio.com/2010-04-01/Accounts/<AC>/Recordings/<RE>.mp3``
(``.mp3`` for MP3, none or ``.wav`` for WAV); HTTP Basic auth with the Account SID and Auth
Token is required once "Enforce HTTP Auth on Media URLs" is on, and that is mandatory for
accounts created after 2023-07-31 (https://support.twilio.com/hc/en-us/articles/15827821586843,
/work/research/twilio.md §10). The bytes are binary, which the twilio library's HTTP client
(it returns ``response.text``) cannot carry, hence this small adapter.

``SandboxRecordings`` stands in for that endpoint locally and in tests: it checks the URL
shape and the Basic auth, records every fetch, and answers fixed fake MP3 bytes per
RecordingSid (or what a test stored with ``add``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from masking.adapters.secrets import TwilioCredentials
from masking.core.ports import SendError

TWILIO_API = "https://api.twilio.com/2010-04-01"
RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
FETCH_TIMEOUT_SECONDS = 6

HttpGet = Callable[[str, tuple[str, str]], tuple[int, bytes]]


def recording_media_url(account_sid: str, recording_sid: str) -> str:
    return f"{TWILIO_API}/Accounts/{account_sid}/Recordings/{recording_sid}.mp3"


def requests_get(url: str, auth: tuple[str, str]) -> tuple[int, bytes]:
    import requests  # installed with the twilio library; imported on the first fetch only

    try:
        response = requests.get(url, auth=auth, timeout=FETCH_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise SendError(f"recording fetch failed: {type(exc).__name__}") from exc
    return response.status_code, response.content


class TwilioRecordingFetcher:
    def __init__(self, credentials: Callable[[], TwilioCredentials], http_get: HttpGet = requests_get) -> None:
        self._credentials = credentials
        self._get = http_get

    def fetch(self, recording_sid: str) -> bytes | None:
        if not RECORDING_SID.match(recording_sid):
            return None
        credentials = self._credentials()
        status, body = self._get(
            recording_media_url(credentials.account_sid, recording_sid), (credentials.account_sid, credentials.auth_token)
        )
        if status == 404:
            return None
        if status != 200:
            raise SendError(f"Twilio answered {status} for the recording", status=status)
        return body


@dataclass
class SandboxRecordings:
    """The sandbox's recording media endpoint: ``get`` is an ``HttpGet``."""

    credentials: Callable[[], TwilioCredentials]
    stored: dict[str, bytes] = field(default_factory=dict)
    fetches: list[tuple[str, bool]] = field(default_factory=list)  # (url, authenticated)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, recording_sid: str, audio: bytes) -> None:
        with self._lock:
            self.stored[recording_sid] = audio

    def get(self, url: str, auth: tuple[str, str]) -> tuple[int, bytes]:
        credentials = self.credentials()
        authenticated = auth == (credentials.account_sid, credentials.auth_token)
        with self._lock:
            self.fetches.append((url, authenticated))
        match = re.fullmatch(rf"{re.escape(TWILIO_API)}/Accounts/(AC\w+)/Recordings/(RE[0-9a-fA-F]{{32}})\.mp3", url)
        if not authenticated:
            return 401, b'{"code": 20003, "message": "Authenticate"}'
        if match is None or match.group(1) != credentials.account_sid:
            return 404, b'{"code": 20404, "message": "Not found"}'
        with self._lock:
            audio = self.stored.get(match.group(2))
        # ID3v2 header + a recognisable payload: enough for a player to be handed, not played.
        return 200, audio if audio is not None else b"ID3\x04\x00\x00\x00\x00\x00\x00sandbox recording " + match.group(2).encode()
