"""API Gateway (REST, Lambda proxy) events as Lambda receives them, and Twilio signing.

Used by the local runner to invoke handlers, and by tests and the demo to build
requests signed exactly as Twilio signs them.
"""

from __future__ import annotations

import base64
import uuid
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from twilio.request_validator import RequestValidator


def twilio_signature(auth_token: str, url: str, params: dict[str, str] | list[tuple[str, str]]) -> str:
    """X-Twilio-Signature for a form POST to ``url`` (what Twilio computes)."""
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)

    class _Multi(dict[str, list[str]]):
        def getall(self, name: str) -> list[str]:
            return self[name]

    return str(RequestValidator(auth_token).compute_signature(url, _Multi(multi)))


@lru_cache(maxsize=1)
def _template_paths() -> tuple[str, ...]:
    from local.template import api_routes

    # static routes first, then fewer parameters: as API Gateway picks
    return tuple(sorted({route.path for route in api_routes()}, key=lambda p: (p.count("{"), -len(p))))


def template_resource(path: str) -> tuple[str | None, dict[str, str] | None]:
    """The template's resource for ``path`` (``/twilio/sms/status/{ref}``) and its path
    parameters, as API Gateway puts them in the event; ``(None, None)`` if none matches."""
    segments = [part for part in path.split("/") if part]
    for resource in _template_paths():
        wanted = [part for part in resource.split("/") if part]
        if len(wanted) != len(segments) or any("+" in part for part in wanted):
            continue
        params: dict[str, str] = {}
        for want, got in zip(wanted, segments, strict=True):
            if want.startswith("{"):
                params[want.strip("{}")] = unquote(got)
            elif want != got:
                break
        else:
            return resource, params or None
    return None, None


def api_gateway_event(
    method: str,
    url: str,
    *,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    stage: str = "local",
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API proxy event for a request to ``url`` (``http://host:port/path?query``).

    ``path`` is the resource path without the stage (as API Gateway gives it), and
    ``requestContext.path`` carries the stage, like a deployed API.
    """
    parts = urlsplit(url)
    if resource is None:
        resource, found = template_resource(parts.path)
        path_parameters = path_parameters if path_parameters is not None else found
    query_pairs = parse_qsl(parts.query, keep_blank_values=True)
    multi: dict[str, list[str]] = {}
    for key, value in query_pairs:
        multi.setdefault(key, []).append(value)
    is_base64 = isinstance(body, bytes)
    if isinstance(body, bytes):
        try:
            text_body: str | None = body.decode("utf-8")
            is_base64 = False
        except UnicodeDecodeError:
            text_body = base64.b64encode(body).decode("ascii")
    else:
        text_body = body
    all_headers = {"Host": parts.netloc, **(headers or {})}
    return {
        "resource": resource or parts.path,
        "path": parts.path,
        "httpMethod": method.upper(),
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or parts.path,
            "httpMethod": method.upper(),
            "path": f"/{stage}{parts.path}",
            "stage": stage,
            "domainName": parts.netloc,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": all_headers.get("User-Agent", "")},
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def signed_twilio_event(
    url: str, params: dict[str, str], auth_token: str, *, stage: str = "local", signature: str | None = None
) -> dict[str, Any]:
    """A form POST from Twilio to ``url``, signed with ``auth_token`` (or with ``signature``)."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "X-Twilio-Signature": signature if signature is not None else twilio_signature(auth_token, url, params),
    }
    return api_gateway_event("POST", url, body=urlencode(params), headers=headers, stage=stage)
