"""Secrets from SSM Parameter Store (SecureString), through Powertools parameters.

Parameters live under ``SECRETS_PATH`` (``/masking/<env>``):
``twilio/account_sid`` and ``twilio/auth_token``. Values are cached for 5 minutes, so a
rotated token is picked up without a deploy. Powertools' parameters module is imported on
first use: it is not needed to import a handler.
"""

from __future__ import annotations

from dataclasses import dataclass

from masking.core.records import FrozenRecord

SECRET_MAX_AGE_SECONDS = 300


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class TwilioCredentials(FrozenRecord):
    """The Twilio account SID and auth token from SSM."""

    account_sid: str
    auth_token: str

    def __repr__(self) -> str:  # never print the token
        return f"TwilioCredentials(account_sid={self.account_sid[:6]}..., auth_token=***)"


def twilio_parameter_names(secrets_path: str) -> tuple[str, str]:
    base = secrets_path.rstrip("/")
    return f"{base}/twilio/account_sid", f"{base}/twilio/auth_token"


def read_secure_parameters(*names: str) -> dict[str, str]:
    """SecureString parameters by full name, decrypted, in one call; cached for
    ``SECRET_MAX_AGE_SECONDS``. The Airtable function reads its token and base id with it too.
    A parameter SSM does not have raises Powertools' ``GetParameterError``; one it answers
    without (Powertools returns nothing for it after an InvalidKeyId or an SSM
    InternalServerError) raises ``RuntimeError`` naming it."""
    from aws_lambda_powertools.utilities.parameters import get_parameters_by_name

    values = get_parameters_by_name(parameters={name: {} for name in names}, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
    if missing := [name for name in names if name not in values]:
        raise RuntimeError(f"SSM answered without {', '.join(missing)} (a KMS key or SSM error)")
    return {name: values[name] for name in names}


def load_twilio_credentials(secrets_path: str) -> TwilioCredentials:
    sid_name, token_name = twilio_parameter_names(secrets_path)
    values = read_secure_parameters(sid_name, token_name)
    return TwilioCredentials(account_sid=values[sid_name], auth_token=values[token_name])


def load_webhook_signing_secret(secrets_path: str) -> str:
    """The SharedKey secret Twilio signs with when a Webhooks Rule matches
    (``X-Twilio-Webhooks-Signature-Settings``), from ``<SECRETS_PATH>/twilio/webhook_signing_secret``;
    "" when none is stored or it cannot be read (the Auth Token is tried then).
    https://www.twilio.com/docs/usage/webhooks/webhook-shared-keys"""
    from aws_lambda_powertools.utilities.parameters import get_parameter

    try:
        return str(get_parameter(f"{secrets_path.rstrip('/')}/twilio/webhook_signing_secret", decrypt=True, max_age=SECRET_MAX_AGE_SECONDS))
    except Exception:  # not stored, or no permission: not an error for HMAC-SHA1 webhooks
        return ""
