"""Forwards parked after a transient Twilio failure: nothing lost, nothing sent twice.

When a send fails with a transient error (HTTP 429 / 5xx, Twilio 20429 / 20500 / 20503, a
connection error or a timeout: ``SendError.transient``), the webhook does not drop the
message and does not count on Twilio to retry it (Twilio retries an SMS webhook only on a
failed TCP connect, https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides).
It parks a ``ParkedForward`` on the forward queue (SQS, with a DLQ) and answers 200:

- the parked forward carries the exact parts to send (the name prefix included, so a new
  client's first message still arrives with it, exactly once) and the parts already sent;
- ``ForwardWorker.process`` (the ``forward`` function) sends the parts not sent yet, with
  the same status callback. Each part is claimed with a conditional write per (inbound
  MessageSid, part index) first (``RoutingStore.claim_forward_part``), so a redelivered
  queue message never sends a part twice; a multipart body that failed on part 2 resumes
  at part 2;
- a send that may have reached Twilio (a 500, a lost answer: ``SendError.ambiguous``) is
  looked up in Twilio's Messages list before anything is sent again (``find_sent``); a
  part a status callback already named (``masking.messaging.parts``) is never sent again;
- ``ForwardWorker.take_up`` delivers the planned parts of a claim whose invocation died
  (``UnconfirmedForward``: a fallback replay or a retry found it stale), reconciling
  every part that way, so a crash between the send and the answer sends nothing twice; a
  repeat while the claim is fresh parks the same delivery until the claim is stale;
- the waits between attempts are ``ForwardSettings.retry_delays`` (15 s, 1 min, 5 min,
  30 min, 2 h). SQS delays a message at most 900 s ("Valid values: 0 to 900. Maximum: 15
  minutes", SendMessage DelaySeconds;
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-delay-queues.html),
  so a longer wait is carried as ``not_before`` and re-queued until due;
- after the last attempt, or on a permanent error: the sender is told by SMS that the
  message was not delivered. Having used up every attempt adds a Critical audit row, an
  owner alert and the forward in the forward DLQ (with an alarm).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from masking.core.errors import ClaimInProgress, UnconfirmedForward
from masking.core.models import (
    FORWARDING,
    STALE_CLAIM_SECONDS,
    ForwardedPart,
    InboundSms,
    MessageRecord,
    OutboundSms,
    SentSms,
    iso,
    utcnow,
)
from masking.core.observability import count, logger
from masking.core.ports import ForwardQueue, OwnerAlerts, RoutingStore, SendError, SmsGateway
from masking.core.records import Record
from masking.core.settings import SQS_MAX_DELAY_SECONDS, ForwardSettings
from masking.messaging.parts import part_callback, planned_parts
from masking.mirror import rows
from masking.mirror.outbox import MirrorRecord
from masking.mirror.rows import audit_record

FINISHED = frozenset({"forwarded", "undeliverable"})  # message outcomes a parked forward never reopens
FINAL_PART = -1  # the claim that lets one attempt give up (tell the sender, alert) once
UNDELIVERED_TO_SENDER = "Sorry, your last message could not be delivered. Please try again later."
OWNER_ALERT_SUBJECT = "Masking service: a message could not be delivered"
OWNER_ALERT = (
    "A forwarded message failed {attempts} times (last Twilio error {code}) and was given up. "
    "The sender was told. It is in the forward DLQ; see the Audit Log (Message not delivered)."
)


class ForwardBusy(Exception):
    """Another attempt holds a fresh claim on a part: let the queue deliver this one later."""


@dataclass(slots=True, repr=False, eq=False)
class ParkedForward(Record):
    """What the forward queue carries: one inbound message and the parts still to send."""

    message_sid: str
    from_phone: str  # the inbound sender (told when we give up)
    to_number: str  # the number they texted (we answer from it)
    body: str
    media_urls: list[str]
    direction: str
    provider_id: str
    client_id: str
    lease_id: str | None
    received_at: str
    status_callback: str | None
    parts: list[OutboundSms]
    sent: list[ForwardedPart] = field(default_factory=list)  # the first len(sent) parts went out
    attempt: int = 1  # attempts made so far (1: the webhook's)
    ambiguous: bool = False  # the part that failed last may have reached Twilio
    not_before: int = 0  # epoch seconds: not to be attempted before
    unconfirmed: bool = False  # planned by an invocation that died: any part may be at Twilio

    @classmethod
    def start(
        cls,
        sms: InboundSms,
        received_at: str,
        status_callback: str | None,
        direction: str,
        provider_id: str,
        client_id: str,
        lease_id: str | None,
        parts: list[OutboundSms],
        sent: list[ForwardedPart],
    ) -> ParkedForward:
        """The forward of ``sms`` (as routed: a redacted body stays redacted) that the webhook
        could not finish: ``parts`` to send, the first ``sent`` gone."""
        return cls(
            message_sid=sms.message_sid,
            from_phone=sms.from_phone,
            to_number=sms.to_number,
            body=sms.body,
            media_urls=list(sms.media_urls),
            direction=direction,
            provider_id=provider_id,
            client_id=client_id,
            lease_id=lease_id,
            received_at=received_at,
            status_callback=status_callback,
            parts=list(parts),
            sent=list(sent),
        )

    def to_json(self) -> str:
        data = asdict(self)
        data["sent"] = [{"sid": part.sid, **part.as_map()} for part in self.sent]
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ParkedForward:
        data = json.loads(text)
        data["parts"] = [OutboundSms(**part) for part in data["parts"]]
        data["sent"] = [ForwardedPart.from_map(str(part["sid"]), part) for part in data["sent"]]
        return cls(**data)


@dataclass(eq=False)
class ForwardWorker:
    """Parks, sends and takes up forwards (the module docstring), with ``ForwardSettings``."""

    store: RoutingStore
    gateway: SmsGateway
    queue: ForwardQueue
    alerts: OwnerAlerts
    settings: ForwardSettings
    clock: Callable[[], datetime] = utcnow

    # ---- the forward queue's consumer
    def process(self, forward: ParkedForward) -> list[MirrorRecord]:
        """One attempt at a parked forward. Raises ForwardBusy when another attempt is
        sending one of its parts right now (the queue delivers it again later)."""
        now = int(self.clock().timestamp())
        if forward.not_before > now:  # a wait longer than SQS can delay: not due yet
            self.queue.park(forward, min(forward.not_before - now, SQS_MAX_DELAY_SECONDS))
            return []
        record = self.store.get_message(forward.message_sid)
        if record is not None and record.outcome in FINISHED:
            logger.info("parked forward already finished", extra={"message_sid": forward.message_sid, "outcome": record.outcome})
            return []  # a duplicate queue message, or a given-up forward redriven from the DLQ
        named = record.named_parts() if record is not None else {}  # parts Twilio reported
        token = uuid.uuid4().hex
        sent, sent_now = list(forward.sent), 0
        for index in range(len(forward.sent), len(forward.parts)):
            piece = forward.parts[index]
            claim = self.store.claim_forward_part(forward.message_sid, index, token, now, now - int(self.settings.claim_stale_seconds))
            if claim.status == "sent" and claim.part is not None:
                sent.append(claim.part)
                continue
            if claim.status != "claimed":
                raise ForwardBusy(f"{forward.message_sid} part {index}")
            reconcile = claim.reconcile or forward.unconfirmed or (index == len(forward.sent) and forward.ambiguous)
            try:
                taken = {part.sid for part in sent} | {sid for at, sid in named.items() if at != index}
                result, new = self._send_once(forward, index, reconcile, named.get(index), taken)
            except SendError as error:
                ambiguous = error.ambiguous
                self.store.finish_forward_part(forward.message_sid, index, token, None, ambiguous=ambiguous)
                later = replace(forward, sent=sent, attempt=forward.attempt + 1, ambiguous=ambiguous)
                return self.after_failure(later, error)
            part = ForwardedPart(result.sid, piece.from_number, piece.to_phone, piece.body, list(piece.media_urls))
            self.store.finish_forward_part(forward.message_sid, index, token, part)
            sent.append(part)
            sent_now += new
        return self._delivered(forward, sent, sent_now)

    def _send_once(
        self, forward: ParkedForward, index: int, reconcile: bool, named_sid: str | None, taken: set[str]
    ) -> tuple[SentSms, bool]:
        """Sends part ``index``, unless Twilio already has it (a status callback named it, or
        an earlier attempt's lost answer is found in the Messages list: created since the
        claim's ``received_at``, and none of the SIDs ``taken`` by its other parts); True: sent now."""
        piece = forward.parts[index]
        if named_sid is not None:
            count("ForwardsReconciled")
            return SentSms(named_sid, "sent"), False
        if reconcile:
            try:
                found = self.gateway.find_sent(piece, datetime.fromisoformat(forward.received_at), taken)
            except SendError as error:  # nothing learnt: the part is still ambiguous
                raise SendError(f"look-up failed: {error}", error.code, error.status, transport=True, ambiguous=True) from error
            if found is not None:
                count("ForwardsReconciled")
                logger.info("lost send found in Twilio, not sent again", extra={"message_sid": forward.message_sid})
                return found, False
        return self.gateway.send_sms(piece, part_callback(forward.status_callback, index)), True

    def take_up(
        self, claim: Exception, sms: InboundSms, status_callback: str | None, replay: bool
    ) -> tuple[MessageRecord, str, list[MirrorRecord]] | None:
        """Another invocation's claim of ``sms`` that planned a forward (``masking.messaging.parts``;
        None for any other claim: the caller raises). Taken over, its invocation dead
        (``UnconfirmedForward``): its planned parts are delivered now, each reconciled with
        Twilio first. Still fresh (``ClaimInProgress``): it may be sending right now, so it is
        checked once stale, through the forward queue, and the webhook answers 200 (a 500
        would send Twilio to the fallback URL for a message most likely forwarded already);
        a fallback replay (``replay``) waits and is retried instead."""
        record = getattr(claim, "record", None)
        if record is None or record.outcome != FORWARDING or (replay and isinstance(claim, ClaimInProgress)):
            return None
        forward = self._planned(record, sms, status_callback)
        if isinstance(claim, UnconfirmedForward):
            count("ForwardsResumed")
            return record, "resumed", self.process(forward)
        count("ForwardsRechecked")
        stale_at = int(datetime.fromisoformat(record.received_at).timestamp()) + STALE_CLAIM_SECONDS + 5
        wait = max(1, stale_at - int(self.clock().timestamp()))
        self.queue.park(replace(forward, not_before=stale_at), min(wait, SQS_MAX_DELAY_SECONDS))
        return record, "in_progress", []

    def _planned(self, record: MessageRecord, sms: InboundSms, status_callback: str | None) -> ParkedForward:
        """The planned parts of another invocation's claim ``record``, as a forward whose
        every part may be at Twilio already (``unconfirmed``)."""
        routed = replace(sms, body=record.body, media_urls=list(record.media_urls))  # the body as that claim routed it
        ids = (record.provider_id or "", record.client_id or "")
        forward = ParkedForward.start(
            routed, record.received_at, status_callback, record.direction, *ids, record.lease_id, planned_parts(record), []
        )
        return replace(forward, unconfirmed=True)

    # ---- after a failed attempt (the webhook's or the consumer's)
    def after_failure(self, forward: ParkedForward, error: SendError) -> list[MirrorRecord]:
        """Parks the forward for its next attempt, or gives up: attempts used up, or an
        error that no retry can fix."""
        if not error.transient:
            return self._give_up(forward, error, exhausted=False)
        delays = self.settings.retry_delays
        if forward.attempt > len(delays):
            return self._give_up(forward, error, exhausted=True)
        delay = int(delays[forward.attempt - 1])
        forward = replace(forward, not_before=int(self.clock().timestamp()) + delay)
        self.queue.park(forward, min(delay, SQS_MAX_DELAY_SECONDS))  # raises: the caller must not answer 200
        self.store.set_message_outcome(forward.message_sid, "parked", forward.sent)
        count("ForwardsParked")
        logger.warning(
            "forward parked after a transient Twilio failure",
            extra={"twilio_code": error.code, "attempt": forward.attempt, "delay": delay, "parts_sent": len(forward.sent)},
        )
        return [
            self._audit(
                forward,
                "Forwarding delayed",
                f"Twilio failed transiently ({error}); attempt {forward.attempt + 1} in {delay} s",
                "Warning",
                attempt=forward.attempt,
                twilio_error_code=error.code,
                parts_sent=len(forward.sent),
            )
        ]

    def _give_up(self, forward: ParkedForward, error: SendError, exhausted: bool) -> list[MirrorRecord]:
        now = int(self.clock().timestamp())
        if self.store.claim_forward_part(forward.message_sid, FINAL_PART, uuid.uuid4().hex, now, 0).status != "claimed":
            return []  # a duplicate queue message gave up already
        self.store.set_message_outcome(forward.message_sid, "undeliverable", forward.sent)
        records = [
            self._audit(
                forward,
                "Message not delivered" if exhausted else "Forwarding failed",
                f"Given up after {forward.attempt} attempts: {error}" if exhausted else f"Twilio refused the message: {error}",
                "Critical" if exhausted else "Error",
                attempt=forward.attempt,
                twilio_error_code=error.code,
                parts_sent=len(forward.sent),
            )
        ]
        try:
            self.gateway.send_sms(OutboundSms(from_number=forward.to_number, to_phone=forward.from_phone, body=UNDELIVERED_TO_SENDER))
        except SendError as notice_error:
            records.append(self._audit(forward, "Sender notice failed", str(notice_error), "Error", twilio_error_code=notice_error.code))
        if exhausted:
            count("ForwardsGivenUp")
            self.queue.dead_letter(forward)
            self.alerts.publish(OWNER_ALERT_SUBJECT, OWNER_ALERT.format(attempts=forward.attempt, code=error.code or "none"))
        else:
            count("ForwardFailed")
        logger.error("forward given up", extra={"twilio_code": error.code, "attempt": forward.attempt, "exhausted": exhausted})
        return records

    def _delivered(self, forward: ParkedForward, sent: list[ForwardedPart], sent_now: int) -> list[MirrorRecord]:
        """Every part is at Twilio: recorded, mirrored (upserts: harmless when the webhook
        mirrored it already), and audited when this attempt sent any of it."""
        self.store.set_message_outcome(forward.message_sid, "forwarded", sent)
        confirmed_only = forward.unconfirmed and not sent_now  # another invocation's forward, all found at Twilio
        count("ForwardsConfirmed" if confirmed_only else "ForwardsDelivered")
        stamp = iso(self.clock())
        whole = OutboundSms(
            from_number=forward.parts[0].from_number,
            to_phone=forward.parts[0].to_phone,
            body="".join(part.body for part in forward.parts),
            media_urls=list(forward.parts[0].media_urls),
        )
        inbound = InboundSms(forward.message_sid, forward.from_phone, forward.to_number, forward.body, forward.media_urls)
        ids, queued = (forward.provider_id, forward.client_id, forward.lease_id), [SentSms(part.sid, "queued") for part in sent]
        records = rows.forwarded(inbound, whole, forward.direction, *ids, queued, forward.received_at, activity_at=stamp)
        if confirmed_only:
            return records
        return [
            *records,
            self._audit(
                forward, "Forwarded after retry", f"Delivered to Twilio on attempt {forward.attempt}", "Info", attempt=forward.attempt
            ),
        ]

    def _audit(self, forward: ParkedForward, event: str, description: str, severity: str, **details: object) -> MirrorRecord:
        return audit_record(
            event,
            description,
            category="Error" if severity != "Info" else "Messaging",
            severity=severity,  # type: ignore[arg-type]
            at=iso(self.clock()),
            key=f"{forward.message_sid}:{event}:{forward.attempt}",
            provider_id=forward.provider_id,
            client_id=forward.client_id,
            details={"message_sid": forward.message_sid, **details},
        )
