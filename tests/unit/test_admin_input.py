"""How the admin API reads Zapier's input: key names, synonyms, forms and query strings."""

from __future__ import annotations

import json

import pytest

from masking.handlers.admin_input import UnreadableRequest, canonical_fields, normalize_event, snake_case


@pytest.mark.parametrize("key", ["Sitter ID", "sitterId", "sitter_id", "SitterId", "SitterID", "sitter-id", " Sitter  Id "])
def test_zapier_key_spellings_are_one_snake_case_name(key: str) -> None:
    assert snake_case(key) == "sitter_id"


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("Sitter ID", "provider"),
        ("sitter", "provider"),
        ("providerId", "provider"),
        ("provider", "provider"),
        ("Client ID", "client"),
        ("TTP ID", "client"),
        ("TTP Client ID", "external_id"),
        ("timeToPetId", "external_id"),
        ("externalId", "external_id"),
        ("Phone Number", "phone"),
        ("Mobile", "phone"),
        ("Full Name", "name"),
        ("Area Code", "area_code"),
        ("Client Phone", "client_phone"),
    ],
)
def test_synonyms_map_to_the_model_fields(key: str, field: str) -> None:
    assert canonical_fields([(key, "x")]) == {field: "x"}


def test_the_field_name_itself_wins_over_its_synonyms() -> None:
    assert canonical_fields([("sitter_id", "a"), ("provider", "b"), ("Sitter", "c")]) == {"provider": "b"}
    assert canonical_fields([("sitter_id", "a"), ("Sitter", "c")]) == {"provider": "a"}


def event(method: str, body: str | None, content_type: str | None = None, query: dict[str, str] | None = None) -> dict[str, object]:
    headers = {"Content-Type": content_type} if content_type else {}
    return {
        "httpMethod": method,
        "path": "/sessions",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "body": body,
        "isBase64Encoded": False,
    }


def body_of(normalized: dict[str, object]) -> dict[str, object]:
    assert normalized["headers"] == {"Content-Type": "application/json"}
    return dict(json.loads(str(normalized["body"])))


def test_a_form_body_becomes_json_with_field_names() -> None:
    normalized = normalize_event(event("POST", "Sitter+ID=prov-sam&Client+Phone=%2B13035550201", "application/x-www-form-urlencoded"))
    assert body_of(normalized) == {"provider": "prov-sam", "client_phone": "+13035550201"}


def test_query_parameters_fill_what_the_body_lacks() -> None:
    normalized = normalize_event(event("POST", '{"client": "cl-1"}', "application/json", {"sitterId": "prov-sam", "client": "ignored"}))
    assert body_of(normalized) == {"provider": "prov-sam", "client": "cl-1"}


def test_get_query_keys_are_normalized_and_the_body_left_alone() -> None:
    normalized = normalize_event(event("GET", None, None, {"Sitter ID": "prov-sam", "includeExpired": "true"}))
    assert normalized["queryStringParameters"] == {"provider": "prov-sam", "include_expired": "true"}
    assert normalized["multiValueQueryStringParameters"] == {"provider": ["prov-sam"], "include_expired": ["true"]}
    assert normalized["body"] is None


def test_a_json_body_without_content_type_is_read_as_json() -> None:
    assert body_of(normalize_event(event("PUT", '{"Phone Number": "303-555-0177"}'))) == {"phone": "303-555-0177"}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("{oops", "application/json"), ("[1]", "application/json"), ("a=1", "multipart/form-data; boundary=x"), ('{"a": "\\ud800"}', None)],
)
def test_unreadable_bodies_are_refused(body: str, content_type: str | None) -> None:
    with pytest.raises(UnreadableRequest):
        normalize_event(event("POST", body, content_type))
