"""Sign-off rows after the fact: voiding the ones that no longer count (the payload changed, or
an override replaced the action they approved). The rows stay for the record."""

from __future__ import annotations

from datetime import datetime

from decisions.models import DecisionRequest, SignOff


def void_live_signoffs(
    decision: DecisionRequest, *, now: datetime, reason: str, except_pk: int | None = None
) -> list[int]:
    """Void the sign-offs that still count (all but ``except_pk``); returns their signers' ids.
    The rows stay for the record, with when and why they stopped counting."""
    live = SignOff.objects.filter(decision=decision, voided_at__isnull=True)
    if except_pk is not None:
        live = live.exclude(pk=except_pk)
    voided = list(live.values_list("signer_id", flat=True))
    for signoff in live:
        signoff.voided_at = now
        signoff.void_reason = reason
        signoff.save(update_fields=["voided_at", "void_reason"])
    return voided
