"""call_connect: Twilio's voice webhook (POST /twilio/voice), the click-to-call bridge
(POST /twilio/voice/bridge/{call}) and call status callbacks and <Dial> actions
(POST /twilio/voice/status/{call}[/{leg}]; the old ?call= forms too). Handlers live in
masking.handlers.voice, routing in masking.voice. The whisper
(POST /twilio/voice/whisper/{call}[/answer]), the voicemail's <Record> action
(POST /twilio/voice/voicemail/{call}) and the signed voicemail link (GET /voicemail/{call})
are in masking.handlers.voicemail.

A hot-path function: no pydantic, no pyairtable, no twilio REST client."""

import masking.handlers.init  # first: no garbage collection until init.ready() below

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

import masking.store.calls  # the call store at init, not on the first call (masking.wiring)
import masking.voice.services  # VoiceServices at init, likewise
from masking.core.observability import logger, metrics
from masking.handlers import snapstart
from masking.handlers.voice import handle_bridge_webhook, handle_call_status_webhook, handle_voice_webhook
from masking.handlers.voicemail import handle_recording_link, handle_voicemail_webhook, handle_whisper_webhook
from masking.wiring import get_voice_services

snapstart.register(prime=get_voice_services)  # only where the runtime has SnapStart's hooks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    path = event.get("resource") or event.get("path") or ""
    if path.startswith("/twilio/voice/whisper/"):
        return handle_whisper_webhook(event, get_voice_services())
    if path.startswith("/twilio/voice/voicemail/"):
        return handle_voicemail_webhook(event, get_voice_services())
    if path.startswith("/voicemail/"):
        return handle_recording_link(event, get_voice_services())
    if path.endswith("/voice/status") or "/voice/status/" in path:
        return handle_call_status_webhook(event, get_voice_services())
    if path.endswith("/voice/bridge") or "/voice/bridge/" in path:
        return handle_bridge_webhook(event, get_voice_services())
    return handle_voice_webhook(event, get_voice_services())


masking.handlers.init.ready()  # last: the init is over
