"""What happens: integrations, decision requests, sign-offs, outcomes, the decision log and the
periodic review. One module per concern; every model is importable from ``decisions.models``."""

from decisions.models.breakglass import BreakGlass, BreakGlassReview
from decisions.models.events import DecisionEvent, EventKind
from decisions.models.health import Heartbeat
from decisions.models.integrations import Integration, IntegrationAPIKey, PersonalToken
from decisions.models.ledger import (
    LedgerCheckpoint,
    LedgerHead,
    LedgerLeaf,
    LedgerNode,
    LedgerPending,
    LedgerVerification,
    VerificationMode,
)
from decisions.models.outbox import OutboxMessage
from decisions.models.replay import DraftStatus, PolicyDraft
from decisions.models.requests import (
    CERTIFY,
    REASONS_BY_VERDICT,
    TERMINAL_STATUSES,
    DecisionRequest,
    DecisionRequestUserObjectPermission,
    DecisionStatus,
    Escalation,
    NotificationPreference,
    Outcome,
    OutcomeKind,
    PendingCount,
    ReasonCode,
    SignOff,
    Verdict,
)
from decisions.models.retention import ArchivedDecision, ArchivedEvent, LegalHold, RetentionRun, RetentionStatus
from decisions.models.review import ReviewCadence, ReviewReport, ReviewSchedule

__all__ = [
    "CERTIFY",
    "REASONS_BY_VERDICT",
    "TERMINAL_STATUSES",
    "ArchivedDecision",
    "ArchivedEvent",
    "BreakGlass",
    "BreakGlassReview",
    "DecisionEvent",
    "DecisionRequest",
    "DecisionRequestUserObjectPermission",
    "DecisionStatus",
    "DraftStatus",
    "Escalation",
    "Heartbeat",
    "EventKind",
    "Integration",
    "IntegrationAPIKey",
    "LedgerCheckpoint",
    "LedgerHead",
    "LedgerLeaf",
    "LedgerNode",
    "LedgerPending",
    "LedgerVerification",
    "LegalHold",
    "NotificationPreference",
    "Outcome",
    "OutcomeKind",
    "PendingCount",
    "OutboxMessage",
    "PersonalToken",
    "PolicyDraft",
    "ReasonCode",
    "RetentionRun",
    "RetentionStatus",
    "ReviewCadence",
    "ReviewReport",
    "ReviewSchedule",
    "SignOff",
    "Verdict",
    "VerificationMode",
]
