"""API Gateway <-> Twilio webhook plumbing: no domain logic here.

- ``verify_twilio_request``: the one check every Twilio route makes (readable form body,
  valid ``X-Twilio-Signature`` for the URL Twilio called); it gives the handler a
  ``TwilioRequest`` or the answer to return (400 unreadable, 403 unsigned).
- ``route_path`` / ``public_base_of`` / ``public_url``: the route, the API's public base
  (``PUBLIC_BASE_URL`` with its base path, or host + stage) and the URL Twilio called.
- ``candidate_urls``: every URL Twilio may have signed for the request (both bases, every
  spelling of a query API Gateway has decoded); callbacks carry their state in the path,
  so only old and hand-configured URLs have a query at all.
- ``form_params``: the form body as a multi-valued mapping (base64 or not).
- ``is_signed_by_twilio``: ``X-Twilio-Signature`` checked with the twilio library's
  ``RequestValidator``, HMAC-SHA1 or, per ``X-Twilio-Webhooks-Signature-Settings``, SHA256.
- ``twiml_response`` / ``json_response``: what API Gateway returns.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import permutations
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

from masking.core.observability import count, logger
from masking.core.records import Record

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
    except ValueError:  # its message quotes the body: not for the log
        raise BadRequest("malformed form body") from None
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    return params


def route_path(event: dict[str, Any], public_base_url: str = "") -> str:
    """The route's own path (``/twilio/sms/status/SM1``) without stage or base path.

    API Gateway gives ``path`` without the stage on the execute-api host, but *with* the
    base path on a custom domain with a base path mapping (``/masking/twilio/sms``; see
    https://github.com/aws/serverless-java-container/issues/34 and
    https://github.com/localstack/localstack/pull/12296). The resource template
    (``/twilio/sms/status/{ref}``) says how many trailing segments are the route; without
    one, the base path of ``PUBLIC_BASE_URL`` is stripped when the path starts with it.
    """
    context = event.get("requestContext") or {}
    path = str(event.get("path") or context.get("resourcePath") or "/")
    resource = str(event.get("resource") or "")
    if resource.startswith("/") and "+}" not in resource:
        wanted = [part for part in resource.split("/") if part]
        segments = [part for part in path.split("/") if part]
        if (
            wanted
            and len(segments) >= len(wanted)
            and all(want.startswith("{") or want == got for want, got in zip(wanted, segments[-len(wanted) :], strict=True))
        ):
            return "/" + "/".join(segments[-len(wanted) :])
    base_path = urlsplit(public_base_url).path.rstrip("/")
    if base_path and path.startswith(base_path + "/"):
        return path[len(base_path) :]
    return path


def request_base(event: dict[str, Any]) -> str:
    """``https://<host><stage or base path>`` as this request arrived (no setting)."""
    context = event.get("requestContext") or {}
    host = context.get("domainName") or header(event, "host") or "localhost"
    full = [part for part in str(context.get("path") or event.get("path") or "/").split("/") if part]
    route = [part for part in route_path(event).split("/") if part]
    # by segments: one of the two paths may spell "+" as "%2B"
    prefix = full[: len(full) - len(route)] if len(full) >= len(route) else []
    return f"https://{host}" + "".join(f"/{part}" for part in prefix)


def public_base_of(event: dict[str, Any], public_base_url: str = "") -> str:
    """The API's public base URL: ``PUBLIC_BASE_URL`` (custom domain, with its base path if
    any) or the host + stage this request came through. Every URL handed to Twilio starts
    with it."""
    return public_base_url.rstrip("/") or request_base(event)


def _query_pairs(event: dict[str, Any]) -> list[tuple[str, str]]:
    multi = event.get("multiValueQueryStringParameters") or {k: [v] for k, v in (event.get("queryStringParameters") or {}).items()}
    return [(str(k), str(v)) for k, values in multi.items() for v in (values or [""])]


def public_url(event: dict[str, Any], public_base_url: str = "") -> str:
    """The URL Twilio requested, in its most likely spelling: base + route + query."""
    url = public_base_of(event, public_base_url) + route_path(event, public_base_url)
    pairs = _query_pairs(event)
    return url + ("?" + urlencode(pairs) if pairs else "")


# How a URL Twilio called may spell its query. API Gateway's REST proxy event carries the
# query decoded and regrouped by key (no raw query string), so the exact spelling Twilio
# signed is lost; these are the spellings a configured URL can have.
_SAFE_RAW = "@:/,;!$'()*~"
_ENCODERS: tuple[Callable[[str], str], ...] = (
    lambda s: quote_plus(s, safe=""),  # urlencode: space "+", "@" "%40"
    lambda s: quote(s, safe=""),  # space "%20"
    lambda s: quote(s, safe=_SAFE_RAW),  # "@", ":" and "/" left raw
    lambda s: quote_plus(s, safe=_SAFE_RAW),
)
_ESCAPE = re.compile(r"%[0-9A-F]{2}")
MAX_PERMUTED_PAIRS = 4  # all orders of up to 4 pairs (24); more: given and sorted order


def query_spellings(pairs: list[tuple[str, str]]) -> Iterator[str]:
    """Every query string (without ``?``) that decodes to ``pairs``, most likely first."""
    if not pairs:
        yield ""
        return
    orders: list[tuple[tuple[str, str], ...]] = [tuple(pairs), tuple(sorted(pairs))]
    if len(pairs) <= MAX_PERMUTED_PAIRS:
        orders += list(permutations(pairs))
    seen: set[str] = set()
    for order in orders:
        for encode in _ENCODERS:
            for bare_empty in (False, True):  # "key=" or "key" for an empty value
                for lower in (False, True):  # "%2B" or "%2b"
                    parts = []
                    for key, value in order:
                        part = encode(key) if bare_empty and value == "" else f"{encode(key)}={encode(value)}"
                        parts.append(_ESCAPE.sub(lambda m: m.group().lower(), part) if lower else part)
                    query = "&".join(parts)
                    if query not in seen:
                        seen.add(query)
                        yield query


def candidate_urls(event: dict[str, Any], public_base_url: str = "") -> Iterator[str]:
    """The URLs Twilio may have signed for this request: the configured base (custom
    domain) and the base it arrived through, each with every spelling of the query."""
    route = route_path(event, public_base_url)
    bases = dict.fromkeys([public_base_of(event, public_base_url) + route, request_base(event) + route])
    for query in query_spellings(_query_pairs(event)):
        for base in bases:
            yield base + ("?" + query if query else "")


def is_signed_by_twilio(
    event: dict[str, Any], params: FormParams, auth_token: str, urls: Iterable[str] | str, signing_secret: str = ""
) -> bool:
    """``X-Twilio-Signature`` checked with the installed twilio library's RequestValidator.

    twilio 9.13.0, ``twilio/request_validator.py``: ``get_signature_algorithm`` (lines 73-89)
    reads ``X-Twilio-Webhooks-Signature-Settings: key=<SharedKey id>,algorithm=HMAC_SHA256``
    (absent: HMAC_SHA1); ``RequestValidator(token)`` (lines 93-98) takes "the account Auth
    Token, or the SharedKey secret when the request carries X-Twilio-Webhooks-Signature-
    Settings"; ``validate`` (lines 146-191) accepts the URL with and without ``:443``.
    Docs: https://www.twilio.com/docs/usage/webhooks/webhooks-security and
    https://www.twilio.com/docs/usage/webhooks/webhook-shared-keys .
    """
    signature = header(event, "x-twilio-signature")
    if not signature or not auth_token:
        return False
    settings = header(event, SIGNATURE_SETTINGS_HEADER)
    algorithm = get_signature_algorithm(settings)
    if algorithm.upper() not in (HMAC_SHA1, HMAC_SHA256):
        return False
    # a SharedKey signs with its own secret; without one configured, the Auth Token
    secrets = [signing_secret, auth_token] if settings and signing_secret else [auth_token]
    validators = [RequestValidator(secret) for secret in secrets]
    for url in [urls] if isinstance(urls, str) else urls:
        if any(validator.validate(url, params, signature, algorithm=algorithm) for validator in validators):
            return True
    return False


def twiml_response(twiml: str | None = None, status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "text/xml"}, "body": twiml or EMPTY_TWIML}


def json_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def forbidden() -> dict[str, Any]:
    return json_response(403, {"success": False, "error": "invalid Twilio signature", "details": None})


@dataclass(slots=True, repr=False, eq=False)
class TwilioRequest(Record):
    """A webhook request whose signature checked out."""

    url: str  # the URL Twilio called and signed
    params: FormParams
    event: dict[str, Any]
    base: str = ""  # the API's public base URL: where the URLs we hand Twilio start

    def query(self, name: str) -> str:
        return str((self.event.get("queryStringParameters") or {}).get(name) or "").strip()

    def param(self, name: str) -> str:
        """A path parameter (``/twilio/sms/status/{ref}``), else the old query form (``?ref=``)."""
        return str((self.event.get("pathParameters") or {}).get(name) or "").strip() or self.query(name)


def webhook_signing_secret() -> str:
    """The SharedKey secret for ``X-Twilio-Webhooks-Signature-Settings``, if one is stored."""
    from masking.adapters.secrets import load_webhook_signing_secret
    from masking.core.settings import SettingsError, get_aws_settings

    try:
        return load_webhook_signing_secret(get_aws_settings().secrets_path)
    except SettingsError:  # no SECRETS_PATH: the Auth Token is tried
        return ""


def verify_twilio_request(
    event: dict[str, Any],
    public_base_url: str,
    auth_token: Callable[[], str],
    what: str,
    signing_secret: Callable[[], str] = webhook_signing_secret,
) -> TwilioRequest | dict[str, Any]:
    """The request, or the answer to give: 400 for a body Twilio never sends, 403 (nothing
    done) for a missing or wrong signature. ``what`` names the route in the log line."""
    try:
        params = form_params(event)
    except BadRequest as exc:
        logger.warning(f"unreadable {what} body", extra={"reason": str(exc)})
        return json_response(400, {"success": False, "error": "unreadable form body", "details": str(exc)})
    shared = signing_secret() if header(event, SIGNATURE_SETTINGS_HEADER) else ""
    urls = candidate_urls(event, public_base_url)
    if not is_signed_by_twilio(event, params, auth_token(), urls, shared):
        count("InvalidSignatures")
        logger.warning(f"rejected {what}: invalid or missing X-Twilio-Signature")
        return forbidden()
    return TwilioRequest(url=public_url(event, public_base_url), params=params, event=event, base=public_base_of(event, public_base_url))
