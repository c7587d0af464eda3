"""The local runner's demo world: two providers, two clients, a small number pool.

All numbers are fictional: real phones 555-01xx and 555-02xx, Twilio numbers 555-00xx
and 555-01xx. The sandbox sells 555-5000 and up, so a bought number never equals a real
phone here (tests/unit/test_sandbox_numbers.py). The README (its Demo data table), the
demo and the e2e tests use these constants, so change them here only.
"""

from __future__ import annotations

from masking.core.models import Client, Lifecycle, NumberRecord, NumberStatus, Provider
from masking.core.ports import RoutingStore

SAM = Provider(provider_id="prov-sam", name="Sam Sitter", phone="+13035550101", reserved_number="+17205550001")
KIM = Provider(provider_id="prov-kim", name="Kim Keeper", phone="+13035550102", reserved_number="+17205550002")
PROVIDERS = (SAM, KIM)

OLIVIA = Client(client_id="cl-olivia", name="Olivia Owner", phone="+13035550201")
PETE = Client(client_id="cl-pete", name="Pete Parent", phone="+13035550202")
CLIENTS = (OLIVIA, PETE)

POOL_NUMBERS = ("+17205550100", "+17205550101", "+17205550102")
STANDBY_NUMBER = "+17205550050"

# One Sitters row as the Add Sitter form leaves it in the Airtable stand-in: the
# provisioner schedule (POST /_local/schedules/airtable_provisioner) makes it a provider.
FORM_SITTER_PHONE = "+13035550103"
FORM_SITTER_ROW = {
    "Full Name": "Fran Formfill",
    "Sitter Phone (raw)": "(303) 555-0103",
    "Email": "fran@example.com",
    "Created via Form": "Yes",
    "Provisioning Status": "Pending",
}

# who is behind each real phone, for printing
PEOPLE: dict[str, str] = {party.phone: party.name for party in (*PROVIDERS, *CLIENTS)}


def demo_numbers() -> list[NumberRecord]:
    """Every Twilio number of the demo: reserved, pool and standby, all Ready."""
    reserved = [
        NumberRecord(number=p.reserved_number, lifecycle=Lifecycle.RESERVED, status=NumberStatus.READY, provider_id=p.provider_id)
        for p in PROVIDERS
        if p.reserved_number
    ]
    pool = [NumberRecord(number=n, lifecycle=Lifecycle.POOL, status=NumberStatus.READY) for n in POOL_NUMBERS]
    standby = NumberRecord(number=STANDBY_NUMBER, lifecycle=Lifecycle.STANDBY, status=NumberStatus.READY)
    return [*reserved, *pool, standby]


def seed_demo(store: RoutingStore) -> None:
    """Writes the demo providers, clients and numbers into ``store``."""
    for provider in PROVIDERS:
        store.put_provider(provider)
    for number in demo_numbers():
        store.put_number(number)
    for client in CLIENTS:
        store.put_client(client)
