"""``masking.core.records``: the ``__repr__``, ``__eq__`` and (frozen) ``__hash__`` the
records share behave as the ones ``@dataclass`` would generate for each (the records are
declared with ``repr=False, eq=False`` so that importing them compiles less).

Every subclass in the layer is checked against a twin built with plain ``@dataclass``
from the same fields. Both are filled without ``__init__`` (the settings validate their
values in ``__post_init__``; what is compared here does not depend on it)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import sys
from typing import Any

import pytest

import masking
from masking.core.models import Lease, MessageRecord
from masking.core.records import FrozenRecord, Record


def all_records() -> list[type[Record]]:
    for module in pkgutil.walk_packages(masking.__path__, "masking."):
        importlib.import_module(module.name)
    found: list[type[Record]] = []
    pending = list(Record.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    # the classes the modules define: ``slots=True`` replaces the class it decorates, whose
    # first version stays a subclass until it is collected; FrozenRecord is a base only
    defined = [cls for cls in found if dataclasses.is_dataclass(cls) and getattr(sys.modules[cls.__module__], cls.__name__, None) is cls]
    return sorted(set(defined), key=lambda cls: cls.__qualname__)


def twin(cls: type[Record]) -> type:
    """``cls``'s fields on a plain ``@dataclass``: what ``@dataclass`` would generate."""
    specs = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        spec = dataclasses.field(default=f.default, default_factory=f.default_factory, kw_only=f.kw_only)  # type: ignore[call-overload]
        specs.append((f.name, f.type, spec))
    made = dataclasses.make_dataclass(cls.__name__, specs, frozen=issubclass(cls, FrozenRecord))
    made.__qualname__ = cls.__qualname__
    return made


def build(cls: type, values: dict[str, Any]) -> Any:
    """An instance of ``cls`` with ``values``, without running its ``__init__``."""
    instance = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(instance, name, value)
    return instance


def sample(cls: type, marker: str) -> dict[str, Any]:
    """A value for every field: a string that says which field and which sample."""
    return {f.name: f"{f.name}-{marker}" for f in dataclasses.fields(cls)}


RECORDS = all_records()


def test_the_records_are_the_ones_expected() -> None:
    names = {cls.__qualname__ for cls in RECORDS}
    assert {"Lease", "MessageRecord", "MirrorRecord", "TwilioRequest", "RouteResult", "VoiceResult", "RoutingSettings"} <= names
    assert len(RECORDS) >= 30


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__qualname__)
def test_repr_eq_and_hash_are_what_dataclass_would_generate(cls: type[Record]) -> None:
    plain = twin(cls)
    one, other = sample(cls, "a"), sample(cls, "b")
    record, same, different = build(cls, one), build(cls, dict(one)), build(cls, other)

    if "__repr__" not in cls.__dict__:  # TwilioCredentials writes its own: no token in a log
        assert repr(record) == repr(build(plain, one))
    assert (record == same) is (build(plain, one) == build(plain, dict(one))) is True
    assert (record == different) is (build(plain, one) == build(plain, other)) is False
    for name in one:  # one field apart is enough
        assert (record == build(cls, {**one, name: "changed"})) is False
    assert record != object()
    assert record.__eq__(object()) is NotImplemented
    if issubclass(cls, FrozenRecord):
        assert hash(record) == hash(same) == hash(build(plain, one))
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, next(iter(one)), "changed")
    else:
        with pytest.raises(TypeError):
            hash(record)


def test_a_subclass_is_never_equal_to_its_base_with_the_same_fields() -> None:
    from masking.messaging.routing import RouteResult
    from masking.mirror.webhook import WebhookResult

    assert RouteResult(outcome="forwarded") != WebhookResult(outcome="forwarded")


def test_lists_of_records_compare_by_value_as_before() -> None:
    lease = Lease("p1", "c1", "+13035550100", "+13035550111", "Olivia", "l1", "t0", "t0", 10)
    assert [lease] == [Lease("p1", "c1", "+13035550100", "+13035550111", "Olivia", "l1", "t0", "t0", 10)]
    assert MessageRecord("SM1", "t0") == MessageRecord("SM1", "t0")
    assert "client_phone='+13035550111'" in repr(lease)
