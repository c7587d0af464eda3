"""What ``call_connect`` needs, built by ``masking.wiring.get_voice_services``. Its own
module: the SMS webhook imports ``masking.wiring`` and never needs it (bench/cold_import.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from masking.adapters.secrets import TwilioCredentials
    from masking.core.ports import CallStore, RecordingFetcher, SmsGateway
    from masking.core.settings import TwilioSettings
    from masking.mirror.outbox import Outbox
    from masking.voice.routing import VoiceRouter


@dataclass
class VoiceServices:
    """What ``call_connect`` needs: the voice router and its adapters."""

    router: VoiceRouter
    outbox: Outbox
    twilio: TwilioSettings
    credentials: Callable[[], TwilioCredentials]
    sms: Callable[[], SmsGateway] | None = None  # the voicemail SMS to the provider (built on first use)
    recordings: Callable[[], RecordingFetcher] | None = None  # the voicemail link's audio

    @property
    def store(self) -> CallStore:
        return self.router.store

    def now(self) -> datetime:
        return self.router.clock()
