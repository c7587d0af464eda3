"""The admin API's erasure routes, registered on ``handlers.admin_api.app`` (imported at
the end of that module): ``DELETE /clients/{id}`` and ``DELETE /providers/{id}/data``.
``DELETE /providers/{id}`` stays Path C (remove the provider, keep the data)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from masking.admin.privacy import erase_client, erase_provider_data
from masking.handlers.admin_answers import doc
from masking.handlers.admin_api import ID_PATH, admin, answer, app


class ErasureOut(BaseModel):
    kind: Literal["client", "provider"]
    id: str
    already_erased: bool
    leases_closed: list[str]
    pool_numbers_freed: int
    message_bodies_erased: int
    calls_erased: int
    profile_erased: bool


class ErasureAnswer(BaseModel):
    success: Literal[True]
    erased: ErasureOut


@app.delete(
    "/clients/<client_id>",
    **doc("eraseClient", "Erase a client's data", 200, "Erased (erasing twice is fine): what was erased", ErasureAnswer, 400, 404),
)
def delete_client(client_id: Annotated[str, ID_PATH]) -> Response[dict[str, Any]]:
    """Closes the client's leases, deletes their phone, name and message bodies, and blanks
    their Airtable rows. The answer lists what was erased, never the data."""
    return answer(erased=erase_client(admin(), client_id).as_dict())


@app.delete(
    "/providers/<provider_id>/data",
    **doc("eraseProviderData", "Erase a removed provider's data", 200, "Erased (twice is fine)", ErasureAnswer, 400, 404, 409),
)
def delete_provider_data(provider_id: Annotated[str, ID_PATH]) -> Response[dict[str, Any]]:
    """For a provider removed with ``DELETE /providers/{id}``: closes what leases remain,
    deletes the provider's phone, name and message bodies, and blanks their Airtable rows."""
    return answer(erased=erase_provider_data(admin(), provider_id).as_dict())
