"""The evidence pack's figures: a handful of queries over a period (decisions, sign-offs, the
review cycle, the audit log), the configuration now (policies, schedules, ownership gaps,
retention) and how the system runs now (stalled deadlines, events waiting for the log).
Each function returns plain JSON-able data; ``decisions.review.controls`` judges it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, IntegerField, Max, Min, OuterRef, Q
from django.db.models.functions import Length, Trim
from django.urls import reverse

from decisions.models import (
    ArchivedDecision,
    DecisionRequest,
    DecisionStatus,
    Escalation,
    Integration,
    LedgerPending,
    LegalHold,
    OutcomeKind,
    RetentionRun,
    RetentionStatus,
    ReviewReport,
    ReviewSchedule,
    SignOff,
    Verdict,
)
from decisions.review.exports import certification_valid_at_signing, iso
from decisions.review.figures import Period
from governance import rbac
from governance.gaps import GapKind, ownership_gaps
from governance.models import MIN_RETENTION_MONTHS, ActionType, ApprovalPolicy

User = get_user_model()

SIGNOFF_GRACE = timedelta(days=7)  # a frozen review not signed off after this is overdue
QUICK_APPROVAL = timedelta(seconds=60)  # approvals this soon after submission suggest rubber-stamping
HUMAN_VERDICTS = (DecisionStatus.APPROVED, DecisionStatus.OVERRIDDEN, DecisionStatus.REJECTED)
# The escalation sweep runs every few seconds and the sequencer every few: beyond these, they stopped.
STALL_GRACE = timedelta(minutes=10)  # a pending decision this far past its deadline: escalation stalled
LOG_WAIT_GRACE = timedelta(minutes=10)  # an event waiting this long to enter the log: the sequencer stalled


def _count(condition: Q | None = None) -> Count:
    return Count("pk", filter=condition)


def decision_figures(period: Period) -> dict[str, int]:
    """One query: what happened to the decisions submitted in ``period``."""
    live_signoff = SignOff.objects.filter(decision=OuterRef("pk"), voided_at__isnull=True)
    qs = DecisionRequest.objects.filter(created_at__gte=period.start, created_at__lt=period.end).annotate(
        has_human=Exists(live_signoff),
        escalated=Exists(Escalation.objects.filter(decision=OuterRef("pk"))),
    )
    production = Q(action_type__changes_production_state=True)
    risky = production | Q(action_type__touches_regulated_data=True)
    auto = Q(status=DecisionStatus.AUTO_APPROVED)
    closed = ~Q(status__in=[DecisionStatus.PENDING, DecisionStatus.CANCELLED])
    human = Q(status__in=HUMAN_VERDICTS, has_human=True)
    return qs.aggregate(
        decisions=_count(),
        # System-owned action types need no owner (they may go through without a human).
        without_owner=_count(Q(owner_role__isnull=True, action_type__system_owned=False)),
        production_closed=_count(production & closed),
        production_human_verdict=_count(production & human),
        production_auto_approved=_count(production & auto),
        production_expired=_count(production & Q(status=DecisionStatus.EXPIRED)),
        auto_approved=_count(auto),
        auto_at_intake=_count(auto & Q(escalated=False)),
        auto_at_chain_end=_count(auto & Q(escalated=True)),
        # At intake only system-owned action types; at the end of a chain only action types that
        # change nothing in production and touch no regulated data (lifecycle.stages.apply_final_outcome).
        auto_violations=_count(auto & (risky | Q(escalated=False, action_type__system_owned=False))),
        expired=_count(Q(status=DecisionStatus.EXPIRED)),
        cancelled=_count(Q(status=DecisionStatus.CANCELLED)),
        without_model_version=_count(Q(model_version="")),
        rejected_by_chain_end=_count(Q(status=DecisionStatus.REJECTED, has_human=False)),
        human_verdicts=_count(human),
        outcomes=_count(Q(outcome__isnull=False)),
        false_positives=_count(Q(outcome__kind=OutcomeKind.FALSE_POSITIVE)),
        reverted=_count(Q(outcome__reverted=True)),
    )


def signoff_figures(period: Period) -> dict[str, int]:
    """One query: the sign-offs on the decisions submitted in ``period`` (voided ones count for
    the segregation-of-duties and certification checks: they were signatures all the same)."""
    integration_account = Exists(Integration.objects.filter(service_account_id=OuterRef("signer_id"))) | Exists(
        User.groups.through.objects.filter(user_id=OuterRef("signer_id"), group__name=rbac.INTEGRATION)
    )
    qs = SignOff.objects.filter(decision__created_at__gte=period.start, decision__created_at__lt=period.end).annotate(
        certified=certification_valid_at_signing(),
        by_integration=integration_account,
        rationale_length=Length(Trim("rationale"), output_field=IntegerField()),
    )
    live = Q(voided_at__isnull=True)
    explained = Q(rationale_length__gt=0)
    override, reject = Q(verdict=Verdict.OVERRIDE), Q(verdict=Verdict.REJECT)
    return qs.aggregate(
        signoffs=_count(),
        live=_count(live),
        live_with_rationale=_count(live & explained),
        # A condition, not an annotation: Django leaves a wrapped Q annotation out of the subquery
        # it aggregates over (SQLite then reads the unknown name as a string and counts nothing).
        by_submitter=_count(Q(signer_id=F("decision__submitted_by_id"))),
        by_integration_account=_count(Q(by_integration=True)),
        certification_not_valid=_count(Q(certified=False)),
        approvals=_count(live & Q(verdict=Verdict.APPROVE)),
        overrides=_count(live & override),
        overrides_with_rationale=_count(live & override & explained),
        rejections=_count(live & reject),
        rejections_with_rationale=_count(live & reject & explained),
        quick_approvals=_count(
            live & Q(verdict=Verdict.APPROVE, created_at__lt=F("decision__created_at") + QUICK_APPROVAL)
        ),
    )


def review_figures_of_cycle(period: Period, *, now: datetime) -> dict[str, Any]:
    """Two queries: the reviews frozen in ``period`` (and their sign-offs), and those listed."""
    in_period = Q(frozen_at__gte=period.start, frozen_at__lt=period.end)
    unsigned = Q(signed_off_at__isnull=True)
    counts = ReviewReport.objects.aggregate(
        frozen=_count(in_period),
        signed_off=_count(in_period & ~unsigned),
        overdue=_count(in_period & unsigned & Q(frozen_at__lt=now - SIGNOFF_GRACE)),
        signed_off_in_period=_count(Q(signed_off_at__gte=period.start, signed_off_at__lt=period.end)),
    )
    reports = ReviewReport.objects.filter(in_period).select_related("signed_off_by").order_by("-frozen_at")[:20]
    counts["reports"] = [
        {
            "public_id": str(r.public_id),
            "period_start": iso(r.period_start),
            "period_end": iso(r.period_end),
            "frozen_at": iso(r.frozen_at),
            "signed_off_by": r.signed_off_by.get_username() if r.signed_off_by else None,
            "signed_off_at": iso(r.signed_off_at),
            "url": reverse("decisions:review-report", args=[r.public_id]),
        }
        for r in reports
    ]
    return counts


def configuration_figures() -> dict[str, int]:
    """Three queries: the rules in force now, and the integrations allowed to submit (a lead
    suspends one by deactivating it)."""
    integrations = Integration.objects.aggregate(active=_count(Q(is_active=True)), inactive=_count(Q(is_active=False)))
    return {
        "policies_enabled": ApprovalPolicy.objects.filter(enabled=True).count(),
        "review_schedules_enabled": ReviewSchedule.objects.filter(enabled=True).count(),
        "integrations_active": integrations["active"],
        "integrations_suspended": integrations["inactive"],
    }


def audit_log_figures(period: Period) -> dict[str, Any]:
    """One query: the audit-log entries written in ``period`` (changes to ownership, rosters,
    certifications, policies, chains, integrations and the review cycle), per model."""
    # The system freezes the review reports (review_cycle.freeze_report, no person by design):
    # counted apart, not as changes whose author is unknown.
    frozen_by_system = Q(
        actor__isnull=True,
        action=LogEntry.Action.CREATE,
        content_type__app_label=ReviewReport._meta.app_label,
        content_type__model=ReviewReport._meta.model_name,
    )
    rows = (
        LogEntry.objects.filter(timestamp__gte=period.start, timestamp__lt=period.end)
        .values("content_type__app_label", "content_type__model")
        .annotate(entries=Count("pk"), with_actor=Count("actor"), reviews_frozen=Count("pk", filter=frozen_by_system))
        .order_by("content_type__app_label", "content_type__model")
    )
    by_model = [
        {
            "model": f"{r['content_type__app_label']}.{r['content_type__model']}",
            "entries": r["entries"],
            "with_actor": r["with_actor"],
        }
        for r in rows
    ]
    entries = sum(r["entries"] for r in by_model)
    with_actor = sum(r["with_actor"] for r in by_model)
    reviews_frozen = sum(r["reviews_frozen"] for r in rows)
    return {
        "entries": entries,
        "with_actor": with_actor,
        "reviews_frozen_by_system": reviews_frozen,
        "without_actor": entries - with_actor - reviews_frozen,
        "by_model": by_model,
    }


def gap_figures(*, now: datetime) -> dict[str, Any]:
    """The ownership gaps of the configuration now (governance.gaps), counted per kind."""
    gaps = [{**g.as_dict(), "label": GapKind.LABELS[g.kind], "critical": g.critical} for g in ownership_gaps(at=now)]
    by_kind = {kind: sum(1 for g in gaps if g["kind"] == kind) for kind in GapKind.LABELS}
    return {
        "total": len(gaps),
        "critical": sum(1 for g in gaps if g["kind"] in GapKind.CRITICAL),
        "by_kind": by_kind,
        "gaps": gaps,
    }


def operation_figures(*, now: datetime, last_full_verified_at: str | None) -> dict[str, Any]:
    """Two queries: how the system runs now. Pending decisions past their deadline by more than
    ``STALL_GRACE`` (the escalation engine, deadline tasks and sweep, has stopped), events
    waiting to enter the log for more than ``LOG_WAIT_GRACE`` (the sequencer has stopped), and
    whether the last intact full verification (``last_full_verified_at``, ISO 8601) is overdue."""
    pending = DecisionRequest.objects.filter(status=DecisionStatus.PENDING).aggregate(
        pending=_count(), stalled=_count(Q(deadline__lt=now - STALL_GRACE))
    )
    waiting = LedgerPending.objects.aggregate(
        waiting=_count(), stale=_count(Q(event__at__lt=now - LOG_WAIT_GRACE)), oldest=Min("event__at")
    )
    last_full = datetime.fromisoformat(last_full_verified_at) if last_full_verified_at else None
    return {
        "pending": pending["pending"],
        "stalled": pending["stalled"],
        "log_waiting": waiting["waiting"],
        "log_waiting_stale": waiting["stale"],
        "log_oldest_waiting_at": iso(waiting["oldest"]),
        "full_verification_due_days": full_verification_grace().days,
        "full_verification_overdue": last_full is None or last_full < now - full_verification_grace(),
    }


def full_verification_grace() -> timedelta:
    """Twice the full-verification interval (beat runs one every ``LEDGER_FULL_VERIFY_SECONDS``),
    at least a day: a full run older than this means the daily run stopped."""
    return max(timedelta(days=1), timedelta(seconds=2 * settings.LEDGER_FULL_VERIFY_SECONDS))


def retention_figures(*, now: datetime) -> dict[str, Any]:
    """Five queries: how long each action type keeps its decisions, the oldest decision the
    database still holds (how much history an auditor can read), the retention runs and what
    they removed (any decision removed before its retention had passed), and the legal holds."""
    kept = ActionType.objects.aggregate(
        action_types=_count(),
        shortest=Min("retention_months"),
        longest=Max("retention_months"),
        below_minimum=_count(Q(retention_months__lt=MIN_RETENTION_MONTHS)),
    )
    oldest = DecisionRequest.objects.aggregate(oldest=Min("created_at"))["oldest"]
    runs = RetentionRun.objects.aggregate(
        runs=_count(Q(status=RetentionStatus.DONE)), failed=_count(Q(status=RetentionStatus.FAILED))
    )
    # Removed before its retention had passed: archived by a run that started before kept_until.
    archived = ArchivedDecision.objects.aggregate(
        archived=_count(), early=_count(Q(kept_until__gt=F("run__started_at")))
    )
    return {
        "runs": runs["runs"],
        "runs_failed": runs["failed"],
        "archived_decisions": archived["archived"],
        "removed_early": archived["early"],
        "holds_active": LegalHold.objects.filter(released_at__isnull=True).count(),
        "minimum_months": MIN_RETENTION_MONTHS,
        "action_types": kept["action_types"],
        "shortest_months": kept["shortest"],
        "longest_months": kept["longest"],
        "below_minimum": kept["below_minimum"],
        "oldest_decision_at": iso(oldest),
        "history_days": (now - oldest).days if oldest else 0,
    }
