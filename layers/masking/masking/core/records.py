"""The base of the service's dataclasses: the ``__repr__`` and ``__eq__`` (and, for frozen
ones, ``__hash__``) that ``@dataclass`` would generate for each, written once.

A record is declared ``@dataclass(slots=True, repr=False, eq=False)`` on ``Record``, a
frozen one ``@dataclass(frozen=True, slots=True, repr=False, eq=False)`` on
``FrozenRecord``. Why: ``@dataclass`` writes the source of every method it generates and
compiles it, per class, when the module is imported. Leaving it ``__init__`` (and, frozen,
``__setattr__``/``__delattr__``) to compile takes about 3.5 ms off the SMS webhook's import
and 1.4 ms off its first message's set-up (of about 19 and 8 ms of CPU, 25 interleaved
runs each): their 33 dataclasses were half of what the SMS path's own modules cost
(bench/cold_import.py).

Same behaviour as generated: ``repr`` lists the fields in order, two records are equal when
they are of the same class and their fields are equal as tuples, a record is not hashable
and a frozen one hashes its fields. tests/unit/test_records.py compares every subclass with
a twin made by plain ``@dataclass``.
"""

from dataclasses import fields

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    return names


class Record:
    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # as @dataclass(eq=True) without frozen

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in _field_names(type(self)))
        return f"{type(self).__qualname__}({values})"

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = _field_names(type(self))
        return tuple(getattr(self, name) for name in names) == tuple(getattr(other, name) for name in names)


class FrozenRecord(Record):
    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]  # Record is unhashable; a frozen one hashes its fields
        return hash(tuple(getattr(self, name) for name in _field_names(type(self))))
