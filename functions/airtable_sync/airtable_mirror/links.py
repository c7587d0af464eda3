"""Our ids -> Airtable record ids, for link fields.

The outbox carries our ids (a provider id in Messages.Sitter); Airtable wants the record
id of the Sitters row whose "Provider ID" is that id. The cache lives as long as the
container and is filled three ways: from the rows the writer upserts into Sitters, from
one filtered list request per 25 unknown ids, and from stub rows the writer creates for
ids Airtable does not have yet (see ``writer.AirtableMirror._resolve_links``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any


def link_ids(value: Any) -> list[str]:
    """The ids a mirror field holds for a link: one id, a list of ids, or nothing."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value if item]
    return [str(value)]


class LinkCache:
    def __init__(self) -> None:
        self._ids: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, kind: str, our_id: str) -> str | None:
        with self._lock:
            record_id = self._ids.get(kind, {}).get(our_id)
            if record_id is None:
                self.misses += 1
            else:
                self.hits += 1
            return record_id

    def peek(self, kind: str, our_id: str) -> str | None:
        with self._lock:
            return self._ids.get(kind, {}).get(our_id)

    def put(self, kind: str, our_id: str, record_id: str) -> None:
        with self._lock:
            self._ids.setdefault(kind, {})[our_id] = record_id

    def forget(self, kind: str, our_ids: Iterable[str]) -> None:
        with self._lock:
            known = self._ids.get(kind, {})
            for our_id in our_ids:
                known.pop(our_id, None)

    def clear(self) -> None:
        with self._lock:
            self._ids.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(ids) for ids in self._ids.values())
