"""Routing state. ``RoutingStore`` is the interface; DynamoDB and in-memory implement it."""

from masking.store.base import (
    DuplicateMessage,
    InboundLookup,
    LeaseConflict,
    RoutingStore,
)

__all__ = ["DuplicateMessage", "InboundLookup", "LeaseConflict", "RoutingStore"]
