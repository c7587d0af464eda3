"""The EventBridge schedules' edge: one admin context per run, its records published after.

``run_scheduled(job)`` is what ``pool_monitor``, ``standby_keeper`` and ``lease_sweeper``
call with their rule from ``masking.admin.schedules``; the mirror records the run produced
go on the outbox even when the rule fails half-way (what it did is stored).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from masking.admin.context import AdminContext
from masking.core.observability import log_extra, logger
from masking.mirror.outbox import publish_records
from masking.wiring import get_admin_context, get_outbox


def run_scheduled(name: str, job: Callable[[AdminContext], dict[str, Any]]) -> dict[str, Any]:
    ctx = get_admin_context()
    try:
        result = job(ctx)
    finally:
        publish_records(get_outbox(), ctx.take_records())
    logger.info(f"{name} ran", extra=log_extra(**result))
    return result
