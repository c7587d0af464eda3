"""What the admin API accepts: Zapier-style input normalized, then the request models.

``normalize_event`` turns a JSON, form-encoded or query-string request with Zapier's field
names ("Sitter ID", "sitterId", "phone_number"...) into one JSON body with the models'
field names; the pydantic models below validate it (``handlers.admin_api`` routes it).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import content_types
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from masking.core.phones import InvalidPhoneNumber, normalize_e164
from masking.handlers.twilio_request import header

JSON = content_types.APPLICATION_JSON

FORM = "application/x-www-form-urlencoded"

# After snake-casing a key: the model field it stands for (Zapier and Time To Pet names).
SYNONYMS = {
    "sitter_id": "provider",
    "sitter": "provider",
    "provider_id": "provider",
    "client_id": "client",
    "ttp_id": "client",
    "ttp_client_id": "external_id",
    "time_to_pet_id": "external_id",
    "phone_number": "phone",
    "mobile": "phone",
    "full_name": "name",
    "email_address": "email",
    "client_phone_number": "client_phone",
    "successor_id": "successor",
}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]+")


class UnreadableRequest(ValueError):
    """The body cannot be read as JSON or as a form (answered 400)."""


def snake_case(key: str) -> str:
    """``"Sitter ID"``, ``"sitterId"``, ``"SitterId"``, ``"sitter-id"`` -> ``"sitter_id"``."""
    return _NOT_ALPHANUMERIC.sub("_", _CAMEL_BOUNDARY.sub("_", key.strip())).strip("_").lower()


def canonical_fields(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Keys snake-cased and mapped to field names. A key that already is the field name
    wins over its synonyms; otherwise the first one seen wins."""
    fields: dict[str, Any] = {}
    exact: set[str] = set()
    for key, value in pairs:
        snake = snake_case(key)
        name = SYNONYMS.get(snake, snake)
        if name not in fields or (snake == name and name not in exact):
            fields[name] = value
        if snake == name:
            exact.add(name)
    return fields


def _body_text(event: dict[str, Any]) -> str:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise UnreadableRequest("the body is not valid base64 UTF-8") from exc
    return str(body)


MAX_BODY_CHARS = 64 * 1024  # the largest request (a client upsert) is under 1 KB
MAX_JSON_DEPTH = 8  # the models are flat: an object of scalars


def json_depth(value: Any) -> int:
    """How deep ``value`` nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _body_pairs(event: dict[str, Any]) -> list[tuple[str, Any]]:
    """The body's fields: a JSON object, or a form (sniffed when no content type says).
    Bodies over 64 KB, or JSON nested deeper than 8, are refused (400)."""
    text = _body_text(event).strip()
    if not text:
        return []
    if len(text) > MAX_BODY_CHARS:
        raise UnreadableRequest(f"the body is larger than {MAX_BODY_CHARS // 1024} KB")
    content_type = (header(event, "content-type") or "").split(";")[0].strip().lower()
    if content_type in ("", "text/plain"):
        content_type = "application/json" if text.startswith(("{", "[", '"')) else FORM
    if content_type == FORM:
        try:
            return parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=100)
        except ValueError:  # its message quotes the body
            raise UnreadableRequest("the body is not a valid form (key=value pairs joined by &)") from None
    if not content_type.endswith("json"):
        raise UnreadableRequest(f"unsupported content type {content_type!r}: send JSON or a form")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableRequest(f"the body is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    except RecursionError:  # "[[[[...": deeper than the parser goes
        raise UnreadableRequest(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels") from None
    if json_depth(parsed) > MAX_JSON_DEPTH:
        raise UnreadableRequest(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(parsed, dict):
        raise UnreadableRequest("the JSON body must be an object")
    return list(parsed.items())


def normalize_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with canonical query keys and, except for GET, one JSON object body
    (form fields and query parameters merged in where the body lacks them)."""
    multi = event.get("multiValueQueryStringParameters") or {k: [v] for k, v in (event.get("queryStringParameters") or {}).items()}
    query = canonical_fields((key, value) for key, values in multi.items() for value in values)
    normalized = dict(
        event,
        queryStringParameters=query or None,
        multiValueQueryStringParameters={key: [value] for key, value in query.items()} or None,
    )
    if (event.get("httpMethod") or "GET").upper() in ("GET", "HEAD", "OPTIONS"):
        return normalized
    body = {**query, **canonical_fields(_body_pairs(event))}
    try:
        text = json.dumps(body, ensure_ascii=False)
        text.encode("utf-8")
    except ValueError as exc:  # a lone surrogate ("\ud800") cannot be stored
        raise UnreadableRequest("the body holds characters that are not valid UTF-8 text") from exc
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    multi_headers = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    normalized.update(
        body=text,
        isBase64Encoded=False,
        headers={**headers, "Content-Type": JSON},
        multiValueHeaders={**multi_headers, "Content-Type": [JSON]},
    )
    return normalized


def _e164(value: str) -> str:
    try:
        return normalize_e164(value)
    except InvalidPhoneNumber as exc:
        raise ValueError(exc.reason) from None


def _lifecycle(value: Any) -> Any:
    """``"reserved"``, ``"POOL"``, ``"standby reserved"`` (the old service's spellings) -> the lifecycle."""
    if not isinstance(value, str):
        return value
    title = value.strip().title()
    return "Standby" if title == "Standby Reserved" else title


ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]*$"

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN, examples=["prov-sam"])]

Reference = Annotated[str, Field(min_length=1, max_length=128, description="a client id, external id (Time To Pet) or phone")]

Phone = Annotated[
    str,
    Field(min_length=1, max_length=40, description="a phone number; normalized to E.164 (US by default)", examples=["+13035550101"]),
    AfterValidator(_e164),
]

Name = Annotated[str, Field(min_length=1, max_length=200, examples=["Olivia Owner"])]

Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$", examples=["olivia@example.com"])]

LifecycleName = Annotated[Literal["Reserved", "Pool", "Standby"], BeforeValidator(_lifecycle)]


class AdminInput(BaseModel):
    """Blank values count as absent (Zapier sends "" for unmapped fields); numbers are
    accepted where text is expected (a phone or an area code typed as a number)."""

    model_config = ConfigDict(coerce_numbers_to_str=True, str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None and not (isinstance(v, str) and not v.strip())}
        return data


class SessionRequest(AdminInput):
    provider: Identifier
    client: Reference | None = None
    client_phone: Phone | None = None
    ttl_days: Annotated[float, Field(gt=0, le=365, allow_inf_nan=False, description="lease lifetime; default LEASE_TTL_DAYS")] | None = None
    notify: bool = False


class ProviderRequest(AdminInput):
    name: Name
    phone: Phone
    email: Email | None = None


class ClientRequest(AdminInput):
    phone: Phone
    name: Name | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=128, examples=["ttp-1234"])] | None = None
    email: Email | None = None
    provider: Identifier | None = None


class RemoveProviderRequest(AdminInput):
    successor: Identifier | None = Field(
        default=None,
        description="the provider taking the clients over: the removed provider's number answers for them for HandoverDays",
    )


class CallRequest(AdminInput):
    provider: Identifier
    client: Reference | None = None
    client_phone: Phone | None = None
    reference: Annotated[str, Field(min_length=1, max_length=200, description="your own reference, e.g. a booking id")] | None = None


class PurchaseRequest(AdminInput):
    lifecycle: LifecycleName
    area_code: Annotated[str, Field(pattern=r"^[2-9][0-9]{2}$", examples=["303"])] | None = None
    attach: bool = True
    provider: Identifier | None = Field(
        default=None,
        description="deprecated (sitter_id of the old service): a Reserved number bought for this provider, id or Airtable record id",
    )
