"""API Gateway <-> Twilio webhook plumbing: no domain logic here.

- ``verify_twilio_request``: the one check every Twilio route makes (readable form body,
  valid ``X-Twilio-Signature`` for the URL Twilio called); it gives the handler a
  ``TwilioRequest`` or the answer to return (400 unreadable, 403 unsigned).
- ``public_url``: the URL Twilio called, rebuilt from the API Gateway (REST, proxy)
  event, or from ``PUBLIC_BASE_URL`` for custom domains. Twilio signs that exact URL.
- ``form_params``: the form body as a multi-valued mapping (base64 or not).
- ``is_signed_by_twilio``: ``X-Twilio-Signature`` checked with the twilio library's
  ``RequestValidator``.
- ``twiml_response`` / ``json_response``: what API Gateway returns.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from twilio.request_validator import RequestValidator

from masking.core.observability import count, logger

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class FormParams(dict[str, list[str]]):
    """Form fields with every value kept; ``getall`` is what RequestValidator asks for."""

    def getall(self, name: str) -> list[str]:
        return self[name]

    def first(self, name: str, default: str = "") -> str:
        values = self.get(name)
        return values[0] if values else default


class BadRequest(ValueError):
    """The request is not something Twilio would send."""


def header(event: dict[str, Any], name: str) -> str | None:
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value)
    return None


def form_params(event: dict[str, Any]) -> FormParams:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest("body is not valid base64 UTF-8") from exc
    content_type = (header(event, "content-type") or "application/x-www-form-urlencoded").lower()
    if "application/x-www-form-urlencoded" not in content_type:
        raise BadRequest(f"unsupported content type {content_type!r}")
    params = FormParams()
    try:
        pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body), max_num_fields=200)
    except ValueError as exc:
        raise BadRequest(f"malformed form body: {exc}") from exc
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    return params


def public_url(event: dict[str, Any], public_base_url: str = "") -> str:
    """The URL Twilio requested: base (custom domain, or host + stage) + path + query."""
    context = event.get("requestContext") or {}
    path = event.get("path") or context.get("resourcePath") or "/"
    if public_base_url:
        url = public_base_url.rstrip("/") + path
    else:
        host = context.get("domainName") or header(event, "host") or "localhost"
        stage_path = context.get("path") or path  # includes the stage (or base path mapping)
        url = f"https://{host}{stage_path}"
    query = event.get("multiValueQueryStringParameters") or {k: [v] for k, v in (event.get("queryStringParameters") or {}).items()}
    if query:
        url += "?" + urlencode([(k, v) for k, values in query.items() for v in values])
    return url


def public_base(url: str, path: str) -> str:
    """``https://host/stage/twilio/sms`` with path ``/twilio/sms`` -> ``https://host/stage``."""
    url = url.split("?", 1)[0]
    return url[: -len(path)] if path and url.endswith(path) else url.rsplit("/", 1)[0]


def is_signed_by_twilio(event: dict[str, Any], params: FormParams, auth_token: str, url: str) -> bool:
    signature = header(event, "x-twilio-signature")
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))


def twiml_response(twiml: str | None = None, status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "text/xml"}, "body": twiml or EMPTY_TWIML}


def json_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def forbidden() -> dict[str, Any]:
    return json_response(403, {"success": False, "error": "invalid Twilio signature", "details": None})


@dataclass(slots=True)
class TwilioRequest:
    """A webhook request whose signature checked out."""

    url: str  # the URL Twilio called and signed
    params: FormParams
    event: dict[str, Any]

    def query(self, name: str) -> str:
        return str((self.event.get("queryStringParameters") or {}).get(name) or "").strip()


def verify_twilio_request(
    event: dict[str, Any], public_base_url: str, auth_token: Callable[[], str], what: str
) -> TwilioRequest | dict[str, Any]:
    """The request, or the answer to give: 400 for a body Twilio never sends, 403 (nothing
    done) for a missing or wrong signature. ``what`` names the route in the log line."""
    url = public_url(event, public_base_url)
    try:
        params = form_params(event)
    except BadRequest as exc:
        logger.warning(f"unreadable {what} body", extra={"reason": str(exc)})
        return json_response(400, {"success": False, "error": "unreadable form body", "details": str(exc)})
    if not is_signed_by_twilio(event, params, auth_token(), url):
        count("InvalidSignatures")
        logger.warning(f"rejected {what}: invalid or missing X-Twilio-Signature")
        return forbidden()
    return TwilioRequest(url=url, params=params, event=event)
