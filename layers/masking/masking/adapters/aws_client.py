"""One boto3 client factory: boto3 is imported on the first call, so importing a store or a
queue adapter costs nothing until it talks to AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from botocore.config import Config


def aws_client(service: str, config: Config | None = None) -> Any:
    import boto3

    return boto3.client(service, config=config)  # type: ignore[call-overload]


class AwsClientHolder[ClientT]:
    """Holds one boto3 client of ``aws_service``: the one it was given (a test's), else one
    made on first use with ``client_config()``. Subclasses set ``self._client`` in ``__init__``."""

    aws_service: ClassVar[str]
    _client: ClientT | None

    def client_config(self) -> Config | None:
        return None

    @property
    def client(self) -> ClientT:
        if self._client is None:
            self._client = aws_client(self.aws_service, self.client_config())
        return self._client
