"""The signature matrix (issue 12): every genuine Twilio request is accepted in every
deployment shape, every forged or misdirected one is refused.

Events are built the way API Gateway (REST, Lambda proxy) builds them: the query decoded
and regrouped by key (``multiValueQueryStringParameters``, no raw query string), ``path``
without the stage on the execute-api host but with the base path on a custom domain with
a base path mapping, ``requestContext.path`` with the stage or base path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from twilio.request_validator import RequestValidator

from masking.handlers.twilio_request import TwilioRequest, candidate_urls, public_base_of, route_path, verify_twilio_request

TOKEN = "matrix-auth-token-0123456789abcdef"
SHARED = "matrix-shared-key-secret"
EXEC = "abc123.execute-api.us-east-1.amazonaws.com"
PARAMS = {"MessageSid": "SM" + "1" * 32, "From": "+13035550201", "To": "+17205550001", "Body": "Hi Sam"}


def sign(url: str, params: dict[str, str], secret: str = TOKEN, algorithm: str = "HMAC_SHA1") -> str:
    multi = {key: [value] for key, value in params.items()}

    class _Multi(dict[str, list[str]]):
        def getall(self, name: str) -> list[str]:
            return self[name]

    return str(RequestValidator(secret).compute_signature(url, _Multi(multi), algorithm=algorithm))


def event(
    called: str,
    *,
    path: str,
    context_path: str,
    resource: str | None = None,
    query_order: list[str] | None = None,
    signature: str,
    params: dict[str, str] = PARAMS,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The proxy event API Gateway gives for a POST Twilio made to ``called``."""
    parts = urlsplit(called)
    multi: dict[str, list[str]] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        multi.setdefault(key, []).append(value)
    if query_order is not None:  # API Gateway lists the keys in its own order
        multi = {key: multi[key] for key in query_order}
    body = urlencode(params)
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": "POST",
        "headers": {"Host": parts.hostname, "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        | (headers or {}),
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": path_parameters,
        "requestContext": {"path": context_path, "domainName": parts.hostname, "stage": "prod", "resourcePath": resource or path},
        "body": base64.b64encode(body.encode()).decode() if base64_body else body,
        "isBase64Encoded": base64_body,
    }


def verify(ev: dict[str, Any], public_base_url: str = "", shared: str = "") -> TwilioRequest | dict[str, Any]:
    return verify_twilio_request(ev, public_base_url, lambda: TOKEN, "test", signing_secret=lambda: shared)


def accepted(ev: dict[str, Any], public_base_url: str = "", shared: str = "") -> bool:
    return isinstance(verify(ev, public_base_url, shared), TwilioRequest)


def execute_api(query: str, *, query_order: list[str] | None = None, route: str = "/twilio/voice/status") -> dict[str, Any]:
    called = f"https://{EXEC}/prod{route}?{query}"
    return event(called, path=route, context_path=f"/prod{route}", query_order=query_order, signature=sign(called, PARAMS))


# ---------------------------------------------------------------- query strings API Gateway decoded


@pytest.mark.parametrize(
    ("query", "order"),
    [
        ("call=CA1&leg=dial", None),
        ("call=CA1&leg=dial", ["leg", "call"]),  # our own old dial action, keys given back as (leg, call)
        ("a=1&b=2&a=3", None),  # a repeated key interleaved with another
        ("a=1&b=2&a=3", ["b", "a"]),
        ("note=hello%20world", None),  # %20, not +
        ("note=hello+world", None),
        ("who=sam@example.com&at=12:30", None),  # raw @ and :
        ("who=sam%40example.com&at=12%3A30", None),
        ("n=%2b13035550201", None),  # lower-case escape
        ("n=%2B13035550201", None),
        ("flag&call=CA1", None),  # a key without a value
        ("flag=&call=CA1", None),
        ("x=a%2Fb&y=1&z=2&w=3", ["w", "z", "y", "x"]),
    ],
)
def test_genuine_requests_with_any_query_spelling_are_accepted(query: str, order: list[str] | None) -> None:
    assert accepted(execute_api(query, query_order=order))


def test_a_changed_query_value_is_refused() -> None:
    genuine = execute_api("call=CA1&leg=dial")
    genuine["multiValueQueryStringParameters"] = {"call": ["CA2"], "leg": ["dial"]}
    genuine["queryStringParameters"] = {"call": "CA2", "leg": "dial"}
    answer = verify(genuine)
    assert isinstance(answer, dict) and answer["statusCode"] == 403


# ---------------------------------------------------------------- deployment shapes


def test_execute_api_host_with_stage() -> None:
    called = f"https://{EXEC}/prod/twilio/sms"
    ev = event(called, path="/twilio/sms", context_path="/prod/twilio/sms", signature=sign(called, PARAMS))
    assert accepted(ev)
    request = verify(ev)
    assert isinstance(request, TwilioRequest) and request.base == f"https://{EXEC}/prod"


@pytest.mark.parametrize("event_path", ["/masking/twilio/sms", "/twilio/sms"])
def test_custom_domain_with_a_base_path_mapping(event_path: str) -> None:
    """``https://sms.example.com/masking`` mapped to the stage; AWS gives ``path`` with the
    base path (/masking/twilio/sms); the brief's probe gave it without. Both work with
    PUBLIC_BASE_URL including the base path, and without any setting."""
    called = "https://sms.example.com/masking/twilio/sms"
    ev = event(called, path=event_path, context_path="/masking/twilio/sms", resource="/twilio/sms", signature=sign(called, PARAMS))
    for setting in ("https://sms.example.com/masking", ""):
        request = verify(ev, setting)
        assert isinstance(request, TwilioRequest), setting
        assert request.base == "https://sms.example.com/masking"
        assert route_path(ev, setting) == "/twilio/sms"


def test_custom_domain_without_a_base_path() -> None:
    called = "https://sms.example.com/twilio/sms"
    # API Gateway may still put the stage into requestContext.path: the setting is what counts
    ev = event(called, path="/twilio/sms", context_path="/prod/twilio/sms", signature=sign(called, PARAMS))
    assert accepted(ev, "https://sms.example.com")
    assert public_base_of(ev, "https://sms.example.com") == "https://sms.example.com"


def test_the_execute_api_url_still_works_after_a_custom_domain_is_set() -> None:
    """Numbers configured before the custom domain call the execute-api URL: that is the URL
    they requested, so it is accepted too."""
    called = f"https://{EXEC}/prod/twilio/sms"
    ev = event(called, path="/twilio/sms", context_path="/prod/twilio/sms", signature=sign(called, PARAMS))
    assert accepted(ev, "https://sms.example.com/masking")


def test_path_state_callbacks_are_signed_without_a_query() -> None:
    called = f"https://{EXEC}/prod/twilio/voice/status/CA1/dial"
    ev = event(
        called,
        path="/twilio/voice/status/CA1/dial",
        context_path="/prod/twilio/voice/status/CA1/dial",
        resource="/twilio/voice/status/{call}/{leg}",
        path_parameters={"call": "CA1", "leg": "dial"},
        signature=sign(called, PARAMS),
    )
    request = verify(ev)
    assert isinstance(request, TwilioRequest)
    assert (request.param("call"), request.param("leg"), request.base) == ("CA1", "dial", f"https://{EXEC}/prod")


# ---------------------------------------------------------------- headers, port, body


def test_header_names_in_any_case() -> None:
    called = f"https://{EXEC}/prod/twilio/sms"
    ev = event(called, path="/twilio/sms", context_path="/prod/twilio/sms", signature="unused")
    del ev["headers"]["X-Twilio-Signature"]
    ev["headers"]["x-twilio-signature"] = sign(called, PARAMS)
    assert accepted(ev)


def test_a_signature_over_the_url_with_port_443() -> None:
    called = f"https://{EXEC}/prod/twilio/sms"
    ev = event(called, path="/twilio/sms", context_path="/prod/twilio/sms", signature=sign(f"https://{EXEC}:443/prod/twilio/sms", PARAMS))
    assert accepted(ev)


def test_a_base64_encoded_body() -> None:
    called = f"https://{EXEC}/prod/twilio/sms"
    ev = event(called, path="/twilio/sms", context_path="/prod/twilio/sms", signature=sign(called, PARAMS), base64_body=True)
    request = verify(ev)
    assert isinstance(request, TwilioRequest) and request.params.first("Body") == "Hi Sam"


# ---------------------------------------------------------------- HMAC-SHA256 (X-Twilio-Webhooks-Signature-Settings)


def test_hmac_sha256_signature_settings_header_with_the_shared_key_secret() -> None:
    called = f"https://{EXEC}/prod/twilio/sms"
    settings = {"X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
    signature = sign(called, PARAMS, SHARED, "HMAC_SHA256")
    ev = event(called, path="/twilio/sms", context_path="/prod/twilio/sms", signature=signature, headers=settings)
    assert accepted(ev, shared=SHARED)
    assert not accepted(ev, shared="another-secret")
    # the same HMAC-SHA256 signature without the header is not an HMAC-SHA1 one
    del ev["headers"]["X-Twilio-Webhooks-Signature-Settings"]
    assert not accepted(ev, shared=SHARED)


def test_hmac_sha256_with_the_auth_token_when_no_shared_key_is_stored() -> None:
    called = f"https://{EXEC}/prod/twilio/sms"
    signed = called + "".join(key + PARAMS[key] for key in sorted(PARAMS))  # Twilio's documented string
    expected = base64.b64encode(hmac.new(TOKEN.encode(), signed.encode(), hashlib.sha256).digest())
    assert expected.decode() == sign(called, PARAMS, TOKEN, "HMAC_SHA256")  # what the library computes is the documented string
    settings = {"x-twilio-webhooks-signature-settings": "key=k1,algorithm=HMAC_SHA256"}
    ev = event(called, path="/twilio/sms", context_path="/prod/twilio/sms", signature=expected.decode(), headers=settings)
    assert accepted(ev)


def test_an_unknown_algorithm_is_refused() -> None:
    called = f"https://{EXEC}/prod/twilio/sms"
    settings = {"X-Twilio-Webhooks-Signature-Settings": "key=k1,algorithm=HMAC_SHA512"}
    ev = event(called, path="/twilio/sms", context_path="/prod/twilio/sms", signature=sign(called, PARAMS), headers=settings)
    assert not accepted(ev)


# ---------------------------------------------------------------- forged and misdirected


def test_a_signature_for_another_route_is_refused() -> None:
    signed_for = f"https://{EXEC}/prod/twilio/voice"
    ev = event(f"https://{EXEC}/prod/twilio/sms", path="/twilio/sms", context_path="/prod/twilio/sms", signature=sign(signed_for, PARAMS))
    assert not accepted(ev)
    assert not accepted(ev, "https://sms.example.com/masking")


def test_a_signature_for_another_callback_is_refused() -> None:
    signed_for = f"https://{EXEC}/prod/twilio/sms/status/SM{'2' * 32}"
    called = f"https://{EXEC}/prod/twilio/sms/status/SM{'1' * 32}"
    ev = event(
        called,
        path=urlsplit(called).path.removeprefix("/prod"),
        context_path=urlsplit(called).path,
        resource="/twilio/sms/status/{ref}",
        signature=sign(signed_for, PARAMS),
    )
    assert not accepted(ev)


@pytest.mark.parametrize(
    "change",
    [
        lambda ev: ev.update(body=ev["body"].replace("Sam", "Pam")),
        lambda ev: ev["headers"].update({"X-Twilio-Signature": "dGhpcyBpcyBub3QgYSBzaWduYXR1cmU="}),
        lambda ev: ev["headers"].pop("X-Twilio-Signature"),
        lambda ev: ev["headers"].update({"X-Twilio-Signature": sign(f"https://{EXEC}/prod/twilio/sms", PARAMS, "wrong-token")}),
        lambda ev: ev["headers"].update({"X-Twilio-Signature": sign("https://evil.example.com/prod/twilio/sms", PARAMS)}),
        lambda ev: ev["headers"].update({"X-Twilio-Signature": sign(f"https://{EXEC}/prod/twilio/sms#rc=2", PARAMS)}),
    ],
)
def test_forged_requests_are_refused(change: Any) -> None:
    called = f"https://{EXEC}/prod/twilio/sms"
    ev = event(called, path="/twilio/sms", context_path="/prod/twilio/sms", signature=sign(called, PARAMS))
    change(ev)
    answer = verify(ev)
    assert isinstance(answer, dict) and answer["statusCode"] == 403


def test_query_spellings_are_bounded() -> None:
    """Many pairs are not permuted (24 orders at most): a forged request costs little."""
    ev = execute_api("&".join(f"k{i}=v{i}" for i in range(12)))
    assert len(list(candidate_urls(ev))) <= 2 * 2 * 4 * 2 * 2
