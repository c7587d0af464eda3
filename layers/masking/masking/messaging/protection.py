"""Trust and abuse protection on the SMS path, called by ``SmsRouter`` in a few places.

- ``guard``: the content guard's policy on a body about to be forwarded
  (``masking.messaging.content_guard``);
- ``lease_ttl``: provisional leases for senders the service has never seen, and the
  new-contact limit per provider and hour;
- ``may_reply``: system replies (HELP, expired, unknown sender...) only to the allowed
  countries and at most so many per sender and day (SMS pumping);
- ``flag_rows``: the content flag on the mirror's Messages row.

The counters live in ``masking.store.quotas``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from masking.core.models import NEW_CLIENT_NAME, Client, Lease, Provider
from masking.core.observability import count, logger, mask_phone
from masking.core.ports import OwnerAlerts
from masking.core.privacy_settings import PrivacySettings
from masking.messaging import content_guard
from masking.mirror import rows
from masking.mirror.outbox import MirrorRecord
from masking.store.quotas import MemoryQuotas, Quotas

if TYPE_CHECKING:
    from masking.messaging.routing import RouteResult, SmsRouter, _Context

REDACTED_TO_SENDER = (
    "Contact details were removed from your message: please keep the conversation on this number. Masked numbers protect both of you."
)
BLOCKED_TO_SENDER = "Your message was not delivered: it contained a phone number, email address or link. Please send it without them."
REUSE_NOTICE = "[New conversation: this number now reaches {client}, not the client you last texted on it.] "
NEW_CONTACT_LIMIT_ALERT = (
    "More than {limit} new contacts texted {provider} within an hour; later ones are delivered from the reserved number."
)


def _epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


class Protection:
    def __init__(self, settings: PrivacySettings, quotas: Quotas, alerts: OwnerAlerts | None = None) -> None:
        self.settings = settings
        self.quotas = quotas
        self.alerts = alerts

    @classmethod
    def in_memory(cls, settings: PrivacySettings | None = None) -> Protection:
        """The default settings with in-memory counters (tests, the local demo)."""
        return cls(settings or PrivacySettings(), MemoryQuotas())

    # ---------------------------------------------------------------- content guard
    def guard(
        self, router: SmsRouter, ctx: _Context, provider: Provider, client_id: str, direction: str, own: tuple[str | None, ...]
    ) -> RouteResult | None:
        """Applies the content policy to ``ctx.sms.body``; a result when the message stops here."""
        policy = self.settings.content_guard
        sms = ctx.sms
        if policy == "off" or not sms.body:
            return None
        ours = {number for number in (sms.to_number, *own) if number}

        def is_ours(e164: str) -> bool:
            return e164 in ours or router.store.lookup_inbound(e164, e164).number is not None

        found = content_guard.scan(sms.body, sms.to_number, urls=self.settings.content_guard_urls, is_ours=is_ours)
        if not found:
            return None
        count("ContentGuard")
        ctx.content_flags = found.kinds
        event = {"flag": "Contact details flagged", "redact": "Contact details redacted", "block": "Contact details blocked"}[policy]
        ctx.audit(
            event,
            f"The {direction.replace('_', ' ')} message had contact details ({policy})",
            "Messaging",
            "Warning",
            provider.provider_id,
            client_id,
            policy=policy,
            found=found.counts(),
            direction=direction,
        )
        if policy == "flag":
            return None
        if policy == "redact":
            sms.body = content_guard.redact(sms.body, found)
            window = int((ctx.now + router.ttl).timestamp())
            if self.quotas.once(f"redactnotice#{provider.provider_id}#{client_id}#{direction}", window):
                router._send_system(ctx, sms.to_number, sms.from_phone, REDACTED_TO_SENDER)
            return None
        from masking.messaging.routing import RouteResult

        router.store.claim_message(router._record(ctx, direction, provider.provider_id, client_id, outcome="blocked_content"))
        router._send_system(ctx, sms.to_number, sms.from_phone, BLOCKED_TO_SENDER)
        return RouteResult(outcome="blocked_content", direction=direction)

    def flag_rows(self, ctx: _Context, records: list[MirrorRecord]) -> None:
        flags = getattr(ctx, "content_flags", None)
        if flags:
            for record in records:
                if record.kind == "message" and record.key == ctx.sms.message_sid:
                    rows.flag_message(record, flags)

    # ---------------------------------------------------------------- pool protection
    def known(self, client: Client, pair: Lease | None) -> bool:
        """Synced, named or answered clients are known; a "New client" nobody answered is not."""
        if client.external_id or client.name != NEW_CLIENT_NAME:
            return True
        return pair is not None and not self.is_provisional(pair)

    def is_provisional(self, lease: Lease) -> bool:
        """A lease never extended past its provisional lifetime (the provider never replied)."""
        hours = self.settings.provisional_lease_hours
        return hours > 0 and lease.expires_at - _epoch(lease.started_at) <= self.settings.provisional_seconds + 60

    def lease_ttl(
        self, router: SmsRouter, ctx: _Context, provider: Provider, client: Client, pair: Lease | None
    ) -> timedelta | RouteResult:
        """How long the lease this client message opens or renews lives, or the result of
        delivering it without a pool number (new-contact limit reached)."""
        if self.settings.provisional_lease_hours == 0 or self.known(client, pair):
            return router.ttl
        if pair is not None and pair.is_active(ctx.now):
            # a provisional lease: only the provider's reply makes it a normal one
            return timedelta(seconds=max(1, pair.expires_at - int(ctx.now.timestamp())))
        limit = self.settings.new_contacts_per_provider_per_hour
        if limit:
            hour = ctx.now.strftime("%Y-%m-%dT%H")
            expires = int((ctx.now + timedelta(hours=2)).timestamp())
            if self.quotas.take(f"newcontact#{provider.provider_id}#{hour}", limit, expires) is None:
                return self._over_new_contact_limit(router, ctx, provider, client, hour, expires)
        return timedelta(hours=self.settings.provisional_lease_hours)

    def _over_new_contact_limit(
        self, router: SmsRouter, ctx: _Context, provider: Provider, client: Client, hour: str, expires: int
    ) -> RouteResult:
        outbound = router._claim_from_reserved(ctx, provider, client, "new_contact_limit")
        count("NewContactLimited")
        limit = self.settings.new_contacts_per_provider_per_hour
        if self.quotas.once(f"newcontactalert#{provider.provider_id}#{hour}", expires):
            ctx.audit(
                "New-contact limit reached",
                NEW_CONTACT_LIMIT_ALERT.format(limit=limit, provider=provider.name),
                "Pool",
                "Critical",
                provider.provider_id,
                client.client_id,
                limit=limit,
            )
            if self.alerts is not None:
                try:
                    self.alerts.publish("New-contact limit reached", NEW_CONTACT_LIMIT_ALERT.format(limit=limit, provider=provider.name))
                except Exception:  # the message still goes through; the audit row stays
                    logger.exception("owner alert failed")
        return router._send_claimed(ctx, outbound, provider, client, "new_contact_limit")

    # ---------------------------------------------------------------- safe reuse
    @property
    def cool_off(self) -> int:
        """Seconds a pool number rests after another client's lease ended (``PoolCoolOffDays``)."""
        return self.settings.cool_off_seconds

    @staticmethod
    def reuse_log() -> list[Lease]:
        """Where ``acquire_lease`` reports a number reused inside the cool-off."""
        return []

    def reuse_notice(self, ctx: _Context, reused: list[Lease], provider: Provider, client: Client) -> str:
        """The one-time notice on the first message of a lease that took a number another
        client left inside the cool-off (counted: ``PoolReuseInCoolOff``), else ""."""
        if not reused:
            return ""
        count("PoolReuseInCoolOff")
        ctx.audit(
            "Pool number reused in cool-off",
            "No other pool number was free: a number another client left recently now reaches this client; the provider was told",
            "Pool",
            "Warning",
            provider.provider_id,
            client.client_id,
            pool_number=mask_phone(reused[0].pool_number),
            previous_client=reused[0].client_id,
        )
        return self.reuse_text(client)

    @staticmethod
    def reuse_text(client: Client) -> str:
        return REUSE_NOTICE.format(client=client.name)

    # ---------------------------------------------------------------- system replies
    def may_reply(self, ctx: _Context, from_number: str, to_phone: str) -> bool:
        """False (and audited) for a system reply to a country not allowed, or past the
        per-sender daily limit."""
        allowed = self.settings.system_reply_countries or (content_guard.region_of(from_number),)
        region = content_guard.region_of(to_phone)
        reason = ""
        if region not in allowed:
            reason = f"country {region} is not allowed"
        else:
            limit = self.settings.system_replies_per_sender_per_day
            day = ctx.now.strftime("%Y-%m-%d")
            expires = int((ctx.now + timedelta(days=2)).timestamp())
            if self.quotas.take(f"sysreply#{to_phone}#{day}", limit, expires) is None:
                reason = f"more than {limit} system replies today"
        if not reason:
            return True
        count("SystemRepliesWithheld")
        ctx.audit("System reply withheld", f"Not sent: {reason}", "Messaging", "Warning", phone=mask_phone(to_phone), region=region)
        return False
