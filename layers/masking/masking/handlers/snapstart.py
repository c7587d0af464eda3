"""Lambda SnapStart for the webhook functions (optional: template parameter ``SnapStart``).

With SnapStart, Lambda runs a function's init once, snapshots the memory, and restores
every new execution environment from it. The runtime hooks come from the
``snapshot_restore_py`` library, "included in Python managed runtimes"
(https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-python.html); a
handler module must import it for its hooks to run. Before the snapshot we build the
function's services (imports, settings, routers: no network), so the snapshot holds them.
After each restore, what must not be shared between environments is renewed: the
``random`` module's state (re-seeded; ``uuid4`` reads ``os.urandom`` and needs nothing),
the boto3 clients (their credentials come from the restored environment's variables), and
the cached secrets (Powertools parameters cache, so a rotated token is read again).
Outside Lambda (tests, the local runner) the library is absent and nothing is registered.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any


def refresh_after_restore() -> None:
    from aws_lambda_powertools.utilities.parameters import clear_caches

    from masking.wiring import clear_wiring_cache

    random.seed()
    clear_wiring_cache()
    clear_caches()


def register(prime: Callable[[], Any]) -> bool:
    """Registers ``prime`` before the snapshot and the refresh after every restore; False
    when the runtime has no ``snapshot_restore_py`` (not on Lambda, or an old runtime)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(prime)
    register_after_restore(refresh_after_restore)
    return True
