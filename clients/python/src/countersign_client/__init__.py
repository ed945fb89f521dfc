"""Countersign from Python: submit a recommendation, wait for a person's verdict, verify its webhook."""

from countersign_client.client import AsyncCountersign, Countersign, Retry
from countersign_client.errors import (
    APIError,
    AuthenticationFailed,
    Conflict,
    CountersignError,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    VerdictTimeout,
    WebhookVerificationError,
)
from countersign_client.models import Decision, SignOff
from countersign_client.webhooks import verify_webhook

__all__ = [
    "APIError",
    "AsyncCountersign",
    "AuthenticationFailed",
    "Conflict",
    "Countersign",
    "CountersignError",
    "Decision",
    "IdempotencyConflict",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "Retry",
    "ServerError",
    "SignOff",
    "VerdictTimeout",
    "WebhookVerificationError",
    "verify_webhook",
]
