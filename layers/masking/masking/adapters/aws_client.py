"""One boto3 client factory: boto3 is imported on the first call, so importing a store or a
queue adapter costs nothing until it talks to AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config


def aws_client(service: str, config: Config | None = None) -> Any:
    import boto3

    return boto3.client(service, config=config)  # type: ignore[call-overload]
