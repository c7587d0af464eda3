"""Reads template.yaml (CloudFormation tags and all) for the local runner and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps !Ref, !Sub, !GetAtt... as {"Fn::X": value} instead of failing."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@lru_cache(maxsize=1)
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def resource(logical_id: str) -> dict[str, Any]:
    return load_template()["Resources"][logical_id]


def table_definition(logical_id: str = "Table") -> dict[str, Any]:
    """CreateTable arguments from the template's own KeySchema and AttributeDefinitions."""
    props = resource(logical_id)["Properties"]
    definition = {
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return definition


@dataclass(frozen=True)
class ApiRoute:
    function: str  # logical id
    method: str
    path: str  # may hold {params}
    code_uri: str
    handler: str
    api_key_required: bool = False  # the event's Auth.ApiKeyRequired: API Gateway checks x-api-key


def api_routes() -> list[ApiRoute]:
    """Every API event of every function in the template."""
    routes = []
    for logical_id, spec in load_template()["Resources"].items():
        if spec.get("Type") != "AWS::Serverless::Function":
            continue
        props = spec.get("Properties", {})
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "Api":
                continue
            routes.append(
                ApiRoute(
                    function=logical_id,
                    method=event["Properties"]["Method"].upper(),
                    path=event["Properties"]["Path"],
                    code_uri=props["CodeUri"],
                    handler=props.get("Handler", "app.lambda_handler"),
                    api_key_required=bool((event["Properties"].get("Auth") or {}).get("ApiKeyRequired", False)),
                )
            )
    return routes


def function_spec(logical_id: str) -> tuple[str, str]:
    """(CodeUri, Handler) of a function of the template."""
    props = resource(logical_id)["Properties"]
    return props["CodeUri"], props.get("Handler", "app.lambda_handler")


@dataclass(frozen=True)
class IntegrationRoute:
    """A route of the API's DefinitionBody served by API Gateway itself (no function):
    ``kind`` "mock" (static answer) or "sqs" (the request stored on ``queue``)."""

    method: str
    path: str
    kind: str
    queue: str  # logical id of the queue ("" for mock)
    integration: dict[str, Any]

    def static_answer(self) -> tuple[int, str, str]:
        """(status, content type, body) of a mock route or of an SQS route's success."""
        default = self.integration.get("responses", {}).get("default", {})
        templates = default.get("responseTemplates") or {}
        content_type = next(iter(templates), "application/json")
        return int(default.get("statusCode", 200)), content_type, str(templates.get(content_type, ""))


def integration_routes() -> list[IntegrationRoute]:
    """The MaskingApi DefinitionBody's routes that API Gateway answers itself."""
    body = resource("MaskingApi")["Properties"].get("DefinitionBody") or {}
    routes = []
    for path, methods in (body.get("paths") or {}).items():
        for method, spec in methods.items():
            integration = spec.get("x-amazon-apigateway-integration") or {}
            kind = str(integration.get("type", "")).lower()
            if kind == "mock":
                routes.append(IntegrationRoute(method.upper(), path, "mock", "", integration))
            elif kind == "aws":
                uri = integration.get("uri", {})
                text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else str(uri)
                # ...:sqs:path/${AWS::AccountId}/${FallbackQueue.QueueName} -> FallbackQueue
                queue = text.rsplit("${", 1)[-1].split(".", 1)[0] if ":sqs:path/" in text else ""
                routes.append(IntegrationRoute(method.upper(), path, "sqs", queue, integration))
    return routes
