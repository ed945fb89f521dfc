"""Domain errors the decision services raise; every surface maps them to a clear 4xx."""

from __future__ import annotations


class DecisionError(Exception):
    """Base: ``status`` is the HTTP status the API answers with, ``code`` a stable identifier."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DecisionError):
    status = 403
    code = "not_allowed"


class SegregationOfDuties(NotAllowed):
    code = "segregation_of_duties"


class NotEligible(NotAllowed):
    code = "not_eligible"


class CertificationExpired(NotEligible):
    code = "certification_expired"


class StepUpRequired(NotAllowed):
    """The decision's policy asks for a fresher authentication (or MFA) than the signer's."""

    code = "step_up_required"


class DecisionClosed(DecisionError):
    status = 409
    code = "decision_closed"


class AlreadySigned(DecisionError):
    status = 409
    code = "already_signed"


class NoLongerWaitsForYou(DecisionError):
    """The decision was routed to the caller, then closed (which revoked the grants): not a 404."""

    status = 409
    code = "no_longer_waits_for_you"


class OutcomeAlreadyReported(DecisionError):
    status = 409
    code = "outcome_already_reported"


class IdempotencyConflict(DecisionError):
    status = 422
    code = "idempotency_key_reused"


class PendingCapReached(DecisionError):
    status = 429
    code = "pending_cap_reached"


class InvalidInput(DecisionError):
    status = 400
    code = "invalid"


class NotYetProvable(DecisionError):
    """The decision's newest events are not in a signed checkpoint yet."""

    status = 409
    code = "not_in_a_checkpoint_yet"
