"""The admin API for Zapier and operators: sessions, providers, clients, numbers, calls,
pool stats. (The function is named ``create_session`` after the product's design card.)

``handle_admin_request`` is the whole HTTP layer, in this order:

1. ``x-api-key`` is checked against the Secrets Manager secret named by
   ``ADMIN_API_KEY_SECRET`` (missing or wrong: 403, nothing else runs);
2. ``handlers.admin_input.normalize_event`` turns Zapier-style input into one JSON body;
3. the Powertools resolver validates it against the request models
   (``handlers.admin_input``) and calls one domain function (``masking.admin``,
   ``masking.voice.click_to_call``); the request's mirror records are published when it ends.

Every answer is JSON: ``{"success": true, ...}``, or ``{"success": false, "error": ...,
"details": ...}`` with the status of the domain error (``masking.core.errors``), 422 for
invalid input (details name each field), 500 for anything unexpected (logged).
"""

from __future__ import annotations

import hmac
import json
import os
from dataclasses import asdict
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.admin.adoption import assign_reserved_number, resolve_provider_reference
from masking.admin.call_history import MAX_CALLS, CallHistoryAnswer, call_history, signed_links
from masking.admin.clients import resolve_client, upsert_client
from masking.admin.context import AdminContext
from masking.admin.numbers import attach_number, purchase_number
from masking.admin.pool import pool_stats
from masking.admin.provisioning import create_provider, get_provider, remove_provider, rotate_number
from masking.admin.sessions import close_session, get_session, list_sessions, open_session
from masking.core.errors import AdminError, Conflict, Unprocessable
from masking.core.models import Lifecycle, NumberStatus
from masking.core.observability import logger
from masking.core.phones import InvalidPhoneNumber, normalize_e164
from masking.handlers.admin_answers import (
    CallAnswer,
    ClientAnswer,
    NumberAnswer,
    NumberListAnswer,
    PoolAnswer,
    ProviderAnswer,
    SessionAnswer,
    SessionListAnswer,
    doc,
)
from masking.handlers.admin_input import (
    ID_PATTERN,
    JSON,
    CallRequest,
    ClientRequest,
    ProviderRequest,
    PurchaseRequest,
    RemoveProviderRequest,
    SessionRequest,
    UnreadableRequest,
    normalize_event,
)
from masking.handlers.twilio_request import header, json_response, public_base_of, route_path
from masking.mirror.outbox import publish_records
from masking.voice.click_to_call import session_view, start_call
from masking.wiring import get_admin_context, get_outbox

API_TITLE = "Masking admin API"
API_VERSION = "1.0.0"
API_KEY_HEADER = "x-api-key"
API_KEY_MAX_AGE_SECONDS = 300
FORBIDDEN = "missing or invalid API key"

# ---------------------------------------------------------------- routes

app = APIGatewayRestResolver(enable_validation=True)
ID_PATH = Path(pattern=ID_PATTERN, max_length=128)


def admin() -> AdminContext:
    """The request's context (set by ``handle_admin_request``)."""
    return app.context["admin"]  # type: ignore[no-any-return]


def webhook_base() -> str:
    """The API's public base URL (``PUBLIC_BASE_URL`` with its base path, or host + stage):
    where bought numbers, click-to-calls and status callbacks point."""
    return public_base_of(app.current_event.raw_event, admin().twilio.public_base_url)


def answer(status: int = 200, **payload: Any) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=JSON, body={"success": True, **payload})


def failure(status: int, message: str, details: Any = None) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=JSON, body={"success": False, "error": message, "details": details})


@app.post(
    "/sessions",
    **doc("openSession", "Open a session", 201, "Opened (200: the pair's session was already active)", SessionAnswer, 400, 404, 409, 502),
)
def post_session(request: SessionRequest) -> Response[dict[str, Any]]:
    """Opens a session (lease) for a provider and a client, or returns the pair's active one."""
    if not request.client and not request.client_phone:
        raise Unprocessable("client or client_phone is required", [{"field": "client", "problem": "client or client_phone is required"}])
    ctx = admin()
    provider = get_provider(ctx, request.provider)
    client = resolve_client(ctx, request.client or "", request.client_phone)
    view = open_session(ctx, provider, client, request.ttl_days, request.notify, webhook_base())
    return answer(201 if view.created else 200, session=view.as_dict())


@app.get("/sessions/<session_id>", **doc("getSession", "Read a session", 200, "The session", SessionAnswer, 404))
def get_session_route(session_id: Annotated[str, ID_PATH]) -> Response[dict[str, Any]]:
    return answer(session=get_session(admin(), session_id).as_dict())


@app.get("/sessions", **doc("listSessions", "List a provider's sessions", 200, "The provider's sessions", SessionListAnswer, 404))
def list_sessions_route(
    provider: Annotated[str, Query(pattern=ID_PATTERN, max_length=128)], include_expired: Annotated[bool, Query()] = False
) -> Response[dict[str, Any]]:
    ctx = admin()
    get_provider(ctx, provider)
    return answer(sessions=[view.as_dict() for view in list_sessions(ctx, provider, include_expired)])


@app.delete(
    "/sessions/<session_id>", **doc("closeSession", "Close a session", 200, "Closed (closing twice is fine)", SessionAnswer, 400, 404)
)
def delete_session(session_id: Annotated[str, ID_PATH]) -> Response[dict[str, Any]]:
    return answer(session=close_session(admin(), session_id).as_dict())


@app.post(
    "/providers",
    **doc("createProvider", "Create a provider", 201, "Created (200: the phone already had one)", ProviderAnswer, 400, 409, 502),
)
def post_provider(request: ProviderRequest) -> Response[dict[str, Any]]:
    """Creates a provider with a reserved number: a Ready standby one (path A) or a bought one (B)."""
    provisioned = create_provider(admin(), request.name, request.phone, request.email, webhook_base())
    created = provisioned.created
    return answer(201 if created else 200, provider=asdict(provisioned.provider), created=created, path=provisioned.path)


@app.get("/providers/<provider_id>", **doc("getProvider", "Read a provider", 200, "The provider", ProviderAnswer, 404))
def get_provider_route(provider_id: Annotated[str, ID_PATH]) -> Response[dict[str, Any]]:
    return answer(provider=asdict(get_provider(admin(), provider_id)))


@app.delete(
    "/providers/<provider_id>",
    **doc("removeProvider", "Remove a provider", 200, "Removed: sessions closed, number to standby or handover", ProviderAnswer, 400, 404),
)
def delete_provider(provider_id: Annotated[str, ID_PATH], request: RemoveProviderRequest | None = None) -> Response[dict[str, Any]]:
    """Closes the provider's sessions; their number goes to standby, or with a `successor`
    (body or `?successor=`) answers the clients who text or call it for HandoverDays first."""
    return answer(provider=asdict(remove_provider(admin(), provider_id, request.successor if request else None)))


@app.post(
    "/providers/<provider_id>/rotate-number",
    **doc("rotateNumber", "Give a provider a new reserved number", 200, "Rotated; old one is standby", ProviderAnswer, 400, 404, 409, 502),
)
def post_rotate_number(provider_id: Annotated[str, ID_PATH]) -> Response[dict[str, Any]]:
    return answer(provider=asdict(rotate_number(admin(), provider_id, webhook_base())))


@app.put("/clients", **doc("upsertClient", "Create or update a client", 201, "Created (200: updated)", ClientAnswer, 400, 404, 409))
def put_client(request: ClientRequest) -> Response[dict[str, Any]]:
    """Upserts a client by external id, else by phone."""
    ctx = admin()
    if request.provider:
        get_provider(ctx, request.provider)
    client, created = upsert_client(ctx, request.phone, request.name, request.external_id, request.email, request.provider)
    return answer(201 if created else 200, client=asdict(client), created=created)


@app.post(
    "/numbers/purchase",
    **doc("purchaseNumber", "Buy a number", 201, "Bought: Pending, or Ready / Failed if attached", NumberAnswer, 400, 409, 502),
)
def post_purchase(request: PurchaseRequest) -> Response[dict[str, Any]]:
    ctx = admin()
    if request.provider:  # the old service's purchase for a sitter (deprecated): bought, attached, assigned
        if request.lifecycle != "Reserved":
            raise Unprocessable("invalid request", [{"field": "lifecycle", "problem": "a number bought for a provider is Reserved"}])
        provider = get_provider(ctx, resolve_provider_reference(ctx.store, request.provider))
        if provider.reserved_number or provider.status == "Inactive":  # refused before anything is bought
            raise Conflict("the provider already has a reserved number, or is inactive", {"provider": provider.provider_id})
        bought = purchase_number(ctx, Lifecycle.RESERVED, webhook_base(), request.area_code)
        provider, number, _ = assign_reserved_number(ctx, provider.provider_id, bought.number, webhook_base())
        return answer(201, number=asdict(number), provider=asdict(provider))
    number = purchase_number(ctx, Lifecycle(request.lifecycle), webhook_base(), request.area_code)
    if request.attach:
        number = attach_number(ctx, number.number, webhook_base())
    return answer(201, number=asdict(number))


@app.post(
    "/numbers/<number>/attach", **doc("attachNumber", "Attach and verify a number", 200, "Attached: Ready", NumberAnswer, 400, 404, 502)
)
def post_attach(number: Annotated[str, Path(max_length=40, description="E.164; URL-encode the + as %2B")]) -> Response[dict[str, Any]]:
    """Points the number's webhooks at this API and sends the verification SMS."""
    e164 = _path_number(number)
    attached = attach_number(admin(), e164, webhook_base())
    if attached.status != NumberStatus.READY:
        return failure(502, "the number could not be attached; it is marked Failed", {"number": asdict(attached)})
    return answer(number=asdict(attached))


def _path_number(raw: str) -> str:
    try:
        return normalize_e164(unquote(raw))
    except InvalidPhoneNumber as exc:
        raise Unprocessable("invalid request", [{"field": "number", "problem": exc.reason}]) from None


@app.get("/numbers", **doc("listNumbers", "List the numbers we own", 200, "Numbers, by number", NumberListAnswer))
def list_numbers(
    lifecycle: Annotated[Literal["Reserved", "Pool", "Standby", "Handover"] | None, Query()] = None,
    status: Annotated[Literal["Pending", "Ready", "Failed"] | None, Query()] = None,
) -> Response[dict[str, Any]]:
    numbers = admin().store.list_numbers(Lifecycle(lifecycle) if lifecycle else None, NumberStatus(status) if status else None)
    return answer(numbers=[asdict(n) for n in sorted(numbers, key=lambda n: n.number)])


@app.get("/pool/stats", **doc("poolStats", "Pool utilization", 200, "Pool figures", PoolAnswer))
def get_pool_stats() -> Response[dict[str, Any]]:
    return answer(pool=pool_stats(admin()).as_dict())


@app.post("/calls", **doc("startCall", "Start a click-to-call", 201, "Ringing the provider", CallAnswer, 404, 409, 429, 502))
def post_call(request: CallRequest) -> Response[dict[str, Any]]:
    """Rings the provider from their reserved number; when they answer, the client is dialed
    with the reserved number as caller ID. The session expires 30 minutes after creation."""
    if not request.client and not request.client_phone:
        raise Unprocessable("client or client_phone is required", [{"field": "client", "problem": "client or client_phone is required"}])
    session = start_call(
        admin(), request.provider, request.client or "", request.reference, webhook_base(), client_phone=request.client_phone
    )
    return answer(201, call=session_view(session))


@app.get("/calls", **doc("listCalls", "A provider's call history", 200, "Calls, newest first", CallHistoryAnswer, 404))
def list_calls_route(
    provider: Annotated[str, Query(pattern=ID_PATTERN, max_length=128)],
    client: Annotated[str | None, Query(max_length=128, description="client id, external id or E.164 phone")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CALLS)] = 50,
) -> Response[dict[str, Any]]:
    """Inbound calls and click-to-calls with status, duration, whisper and voicemail (a fresh signed link)."""
    link = signed_links(webhook_base(), admin().now())
    return answer(calls=[e.model_dump() for e in call_history(admin(), provider, client, limit, link)])


@app.get("/openapi.json", include_in_schema=False)
def get_openapi() -> Response[str]:
    return Response(status_code=200, content_type=JSON, body=openapi_json())


@lru_cache(maxsize=1)
def openapi_json() -> str:
    """The OpenAPI document of the admin API (docs/openapi.json is a copy)."""
    document = json.loads(
        app.get_openapi_json_schema(
            title=API_TITLE,
            version=API_VERSION,
            description="Sessions, providers, clients, numbers and pool stats, for Zapier and operators. "
            "Every route needs the x-api-key header. JSON, form-encoded and query-string input are accepted; "
            'Zapier-style names ("Sitter ID", "sitterId", "phone_number"...) are mapped to the fields below.',
            security_schemes={"apiKey": APIKey.model_validate({"type": "apiKey", "in": "header", "name": API_KEY_HEADER})},
            security=[{"apiKey": []}],
        )
    )
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):  # our 422 is ErrorAnswer
        document["components"]["schemas"].pop(unused, None)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- errors


@app.exception_handler(AdminError)
def on_admin_error(error: AdminError) -> Response[dict[str, Any]]:
    return failure(error.status, error.message, error.details)


@app.exception_handler(RequestValidationError)
def on_invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    return failure(422, "invalid request", [_problem(item) for item in error.errors()])


def _problem(item: dict[str, Any]) -> dict[str, str]:
    location = [str(part) for part in item.get("loc", ())]
    field = ".".join(location[1:]) or (location[0] if location else "body")
    message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
    return {"field": field, "problem": message}


@app.exception_handler(Exception)
def on_unexpected(error: Exception) -> Response[dict[str, Any]]:
    logger.exception("admin request failed", extra={"error_type": type(error).__name__})
    return failure(500, "internal error", None)


@app.not_found
def on_no_route(error: Exception) -> Response[dict[str, Any]]:
    return failure(404, "no such route", {"method": app.current_event.http_method, "path": app.current_event.path})


# ---------------------------------------------------------------- entry point


def _error(status: int, message: str, details: Any = None) -> dict[str, Any]:
    return json_response(status, {"success": False, "error": message, "details": details})


def expected_api_key(force: bool = False) -> str:
    """The key's current value (cached 5 minutes; ``force`` reads it again)."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(os.environ["ADMIN_API_KEY_SECRET"], max_age=API_KEY_MAX_AGE_SECONDS, force_fetch=force)
    return value.decode() if isinstance(value, bytes) else str(value)


def previous_api_key() -> str:
    """The value before the last rotation (Secrets Manager's AWSPREVIOUS stage), or ""."""
    import boto3

    try:
        answer = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["ADMIN_API_KEY_SECRET"], VersionStage="AWSPREVIOUS")
    except Exception:  # no previous version yet (ResourceNotFoundException), or unreadable
        return ""
    return str(answer.get("SecretString") or "")


def _matches(provided: str, expected: str) -> bool:
    return bool(provided and expected) and hmac.compare_digest(provided.encode(), expected.encode())


def has_valid_api_key(event: dict[str, Any]) -> bool:
    """The key is the secret's current value or, during a rotation, its previous one.

    API Gateway has already refused keys that are not in the usage plan, so a key that
    differs from the cached value is one being rotated (tools/rotate_admin_key.py puts the
    new key in the usage plan before it changes the secret, and removes the old one after
    the cache has expired): the secret is read again, and the previous value accepted, so
    neither key sees a 403 while warm containers still cache the other.
    """
    provided = header(event, API_KEY_HEADER) or ""
    if not provided:
        return False
    if _matches(provided, expected_api_key()):
        return True
    return _matches(provided, expected_api_key(force=True)) or _matches(provided, previous_api_key())


def handle_admin_request(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API key, then input normalization, then the route; mirror records published at the end."""
    try:
        allowed = has_valid_api_key(event)
    except Exception:
        logger.exception("the admin API key could not be read")
        return _error(500, "internal error")
    if not allowed:
        return _error(403, FORBIDDEN)
    try:
        normalized = normalize_event(event)
    except UnreadableRequest as exc:
        return _error(400, str(exc))
    try:
        ctx = get_admin_context()
    except Exception:
        logger.exception("the admin context could not be built")
        return _error(500, "internal error")
    # a custom domain with a base path mapping gives path = "/masking/sessions": the resolver
    # routes on the path without it
    normalized["path"] = route_path(normalized, ctx.twilio.public_base_url)
    app.append_context(admin=ctx)
    try:
        return app.resolve(normalized, context)
    finally:
        publish_records(get_outbox(), ctx.take_records())


import masking.handlers.admin_privacy  # noqa: E402  # privacy: the erasure routes register on app

__all__ = ["app", "handle_admin_request", "openapi_json"]

import masking.handlers.admin_hooks  # noqa: E402  (outbound hooks: POST/GET/DELETE /hooks...)
import masking.handlers.admin_legacy  # noqa: E402, F401  (registers the old service's deprecated routes on ``app``)
