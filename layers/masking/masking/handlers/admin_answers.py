"""What the admin API answers: the response models (they document the OpenAPI
document; the routes answer plain dicts of the same shape) and ``doc``, the OpenAPI
metadata of a route."""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

from masking.admin.pool import PoolStats
from masking.core.models import Client, NumberRecord, Provider
from masking.handlers.admin_input import JSON


class ErrorAnswer(BaseModel):
    success: Literal[False]
    error: str
    details: Any = None


class SessionOut(BaseModel):
    id: str
    provider_id: str
    client_id: str
    client_name: str
    pool_number: str
    started_at: str
    last_activity_at: str
    expires_at: str
    active: bool
    created: bool
    notified: bool | None


class SessionAnswer(BaseModel):
    success: Literal[True]
    session: SessionOut


class SessionListAnswer(BaseModel):
    success: Literal[True]
    sessions: list[SessionOut]


class ProviderAnswer(BaseModel):
    success: Literal[True]
    provider: Provider
    created: bool | None = None
    path: Literal["A", "B", "existing"] | None = Field(
        default=None, description="A: a Ready standby number was assigned; B: one was bought; existing: the phone had a provider"
    )


class ClientAnswer(BaseModel):
    success: Literal[True]
    client: Client
    created: bool


class NumberAnswer(BaseModel):
    success: Literal[True]
    number: NumberRecord


class NumberListAnswer(BaseModel):
    success: Literal[True]
    numbers: list[NumberRecord]


class PoolAnswer(BaseModel):
    success: Literal[True]
    pool: PoolStats


class CallOut(BaseModel):
    id: str
    provider_id: str
    client_id: str
    client_name: str
    caller_id: str | None
    reference: str | None
    status: str
    call_sid: str | None
    duration: int | None
    client_leg_status: str | None
    client_leg_duration: int | None
    record: bool
    created_at: str
    expires_at: str


class CallAnswer(BaseModel):
    success: Literal[True]
    call: CallOut


ERROR_DESCRIPTIONS = {
    400: "The body is neither a JSON object nor a form",
    403: "Missing or invalid API key",
    404: "Not found",
    409: "Conflicts with what exists (no number to buy, pool exhausted, inactive provider...)",
    422: "Invalid input; details name each field",
    429: "Too many click-to-call requests for this provider this hour",
    502: "Twilio refused or failed",
}


def doc(operation_id: str, summary: str, status: int, description: str, answer: type[BaseModel], *errors: int) -> dict[str, Any]:
    """OpenAPI metadata of a route: its success answer and the error answers it can give."""
    responses: dict[int, OpenAPIResponse] = {status: {"description": description, "content": {JSON: {"model": answer}}}}
    for code in sorted({403, 422, *errors}):
        responses[code] = {"description": ERROR_DESCRIPTIONS[code], "content": {JSON: {"model": ErrorAnswer}}}
    return {"operation_id": operation_id, "summary": summary, "responses": responses}
