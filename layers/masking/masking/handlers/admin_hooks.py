"""The admin API's hook routes, registered on ``handlers.admin_api.app`` (imported at the
end of that module), after Zapier's REST Hook convention
(https://zapier.com/developer/documentation/v2/rest-hooks/): subscribe ``POST /hooks``
(``target_url`` and ``event`` or ``events``; answers ``id`` and the signing ``secret``),
unsubscribe ``DELETE /hooks/{id}``, list ``GET /hooks``, the sample list of the Zap editor
``GET /hooks/samples/{event}`` (a bare JSON array, as a perform-list request returns), and
``POST /hooks/{id}/test`` (a sample delivery, for a Catch Hook to learn the fields)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import AliasChoices, BaseModel, BeforeValidator, Field, RootModel

from masking.core.errors import NotFound
from masking.handlers.admin_answers import doc
from masking.handlers.admin_api import ID_PATH, admin, answer, app
from masking.handlers.admin_input import JSON, AdminInput
from masking.hooks.dispatch import send_test
from masking.hooks.events import EVENTS, sample
from masking.hooks.settings import get_hook_settings
from masking.hooks.subscriptions import subscribe, unsubscribe
from masking.wiring import get_hook_store, require_hook_queue


def _names(value: Any) -> Any:
    """``"client.created, pool.low"`` (a form field, a Zapier text field) -> a list."""
    return value.split(",") if isinstance(value, str) else value


EventName = Annotated[str, Field(max_length=64, examples=["client.created"])]


class HookRequest(AdminInput):
    target_url: str = Field(
        min_length=1,
        max_length=2048,
        validation_alias=AliasChoices("target_url", "url", "hook_url", "subscription_url"),
        description="https URL to POST events to (Zapier: bundle.targetUrl)",
        examples=["https://hooks.zapier.com/hooks/catch/123456/abcdef/"],
    )
    events: Annotated[list[EventName], BeforeValidator(_names), Field(max_length=len(EVENTS))] | None = None
    event: EventName | None = Field(default=None, description="one event (Zapier's subscribe sends this)")


class TestRequest(AdminInput):
    event: EventName | None = Field(default=None, description="the event to sample; default the hook's first")


class HookOut(BaseModel):
    id: str
    target_url: str
    events: list[str]
    created_at: str


class HookCreatedAnswer(BaseModel):
    success: Literal[True]
    id: str
    hook: HookOut
    secret: str = Field(description="HMAC-SHA256 key of the X-Masking-Signature header; keep it")


class HookListAnswer(BaseModel):
    success: Literal[True]
    hooks: list[HookOut]
    events: dict[str, str] = Field(description="every event a hook can subscribe to, and what it means")


class HookAnswer(BaseModel):
    success: Literal[True]
    id: str
    hook: HookOut


class EventOut(BaseModel):
    id: str
    event: str
    occurred_at: str
    test: bool
    data: dict[str, Any]


class HookSamples(RootModel[list[EventOut]]):
    pass


class TestAnswer(BaseModel):
    success: Literal[True]
    id: str
    event: EventOut


@app.post("/hooks", **doc("subscribeHook", "Subscribe a hook", 201, "Subscribed (200: this URL had these events)", HookCreatedAnswer, 409))
def post_hook(request: HookRequest) -> Response[dict[str, Any]]:
    names = [*(request.events or []), *_names(request.event or "")]
    hook, created = subscribe(get_hook_store(), request.target_url, names, admin().stamp(), get_hook_settings().allow_loopback)
    return answer(201 if created else 200, id=hook.hook_id, hook=hook.view(), secret=hook.secret)


@app.get("/hooks", **doc("listHooks", "List the hooks", 200, "The subscriptions (without secrets) and the events", HookListAnswer))
def list_hooks() -> Response[dict[str, Any]]:
    return answer(hooks=[hook.view() for hook in get_hook_store().list_hooks()], events=EVENTS)


@app.delete("/hooks/<hook_id>", **doc("unsubscribeHook", "Unsubscribe a hook", 200, "Unsubscribed", HookAnswer, 404))
def delete_hook(hook_id: Annotated[str, ID_PATH]) -> Response[dict[str, Any]]:
    hook = unsubscribe(get_hook_store(), hook_id)
    return answer(id=hook.hook_id, hook=hook.view())


@app.get("/hooks/samples/<event>", **doc("hookSamples", "Sample deliveries of an event", 200, "A list of one sample", HookSamples, 404))
def get_samples(event: Annotated[str, Path(max_length=64)]) -> Response[list[dict[str, Any]]]:
    if event not in EVENTS:
        raise NotFound("no such event", {"events": list(EVENTS)})
    return Response(status_code=200, content_type=JSON, body=[sample(event).payload()])


@app.post("/hooks/<hook_id>/test", **doc("testHook", "Send a sample delivery", 202, "Queued", TestAnswer, 404, 502))
def post_test(hook_id: Annotated[str, ID_PATH], request: TestRequest) -> Response[dict[str, Any]]:
    event = send_test(get_hook_store(), require_hook_queue(), hook_id, request.event, admin().stamp())
    return answer(202, id=hook_id, event=event.payload())
