"""The auditor's evidence pack: controls from NIST CSF 2.0, the NIST AI RMF and OWASP's
agentic-AI risks, each mapped to figures computed from the live data when the pack is asked for.

Nothing here is asserted: every figure is a query (or the decision-log verification run at
that moment), and each control's status follows from its figures by the rule stated in the
control's ``rule``: ``attention`` when a check fails; otherwise ``untested`` when the period held
nothing for the control to test (no decision, sign-off or review: its checks pass only because
they found nothing), with a ``note`` saying so; ``met`` otherwise. The pack is plain data
(JSON-able): the evidence page renders it and ``?format=json`` downloads it as is.

Figures about decisions and sign-offs cover the decisions submitted in the period; audit-log
entries and review reports are those written in the period; ownership gaps are those of the
configuration now. The number of queries does not depend on the number of decisions, except
for the decision-log verification, which reads every decision's log in batches of 500.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q
from django.db.models.functions import Length, Trim
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from decisions.models import (
    DecisionRequest,
    DecisionStatus,
    Escalation,
    Integration,
    OutcomeKind,
    ReviewReport,
    ReviewSchedule,
    SignOff,
    Verdict,
)
from decisions.review.cycle import log_verification
from decisions.review.exports import DATASETS, certification_valid_at_signing, iso
from decisions.review.figures import Period
from governance import rbac
from governance.gaps import GapKind, ownership_gaps
from governance.models import ApprovalPolicy

User = get_user_model()

MET, ATTENTION, UNTESTED = "met", "attention", "untested"
SIGNOFF_GRACE = timedelta(days=7)  # a frozen review not signed off after this is overdue
QUICK_APPROVAL = timedelta(seconds=60)  # approvals this soon after submission suggest rubber-stamping
HUMAN_VERDICTS = (DecisionStatus.APPROVED, DecisionStatus.OVERRIDDEN, DecisionStatus.REJECTED)


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
    """Two queries: the rules in force now."""
    return {
        "policies_enabled": ApprovalPolicy.objects.filter(enabled=True).count(),
        "review_schedules_enabled": ReviewSchedule.objects.filter(enabled=True).count(),
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


def _link(label: str, name: str, *args: Any, query: dict[str, str] | None = None) -> dict[str, str] | None:
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return None  # an admin page that is not registered in this deployment
    return {"label": label, "url": f"{url}?{urlencode(query)}" if query else url}


def _display(value: Any, *, share: bool) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if share:
        return f"{value * 100:.1f} %"
    return str(value)


def _figure(key: str, label: str, value: Any, *, share: bool = False) -> dict[str, Any]:
    """One figure; ``display`` is how the page shows it (a share as a percentage)."""
    return {"key": key, "label": label, "value": value, "display": _display(value, share=share)}


def _independence_checks(signoffs: dict[str, Any]) -> list[tuple[bool, str]]:
    """Segregation of duties and training at signing: the checks two controls share."""
    return [
        (signoffs["by_submitter"] == 0, f"{signoffs['by_submitter']} sign-off(s) by the submitter."),
        (
            signoffs["by_integration_account"] == 0,
            f"{signoffs['by_integration_account']} sign-off(s) by an integration account.",
        ),
        (
            signoffs["certification_not_valid"] == 0,
            f"{signoffs['certification_not_valid']} sign-off(s) without a valid certification.",
        ),
    ]


def _independence_figures(signoffs: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _figure("signoffs_by_submitter", "Sign-offs by the submitter (must be 0)", signoffs["by_submitter"]),
        _figure(
            "signoffs_by_integration",
            "Sign-offs by integration accounts (must be 0)",
            signoffs["by_integration_account"],
        ),
        _figure(
            "signoffs_certification_not_valid",
            "Sign-offs whose certification was not valid at signing (must be 0)",
            signoffs["certification_not_valid"],
        ),
    ]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _control(
    *,
    key: str,
    framework: str,
    reference: str,
    title: str,
    summary: str,
    rule: str,
    checks: list[tuple[bool, str]],
    tested: tuple[int, str],
    figures: list[dict[str, Any]],
    links: list[dict[str, str] | None],
) -> dict[str, Any]:
    """``tested``: how many things of the period the checks looked at, and what it means when
    there were none (``no ...``)."""
    findings = [message for ok, message in checks if not ok]
    count, nothing = tested
    untested = not findings and count == 0
    return {
        "id": key,
        "framework": framework,
        "reference": reference,
        "title": title,
        "summary": summary,
        "rule": rule,
        "status": ATTENTION if findings else UNTESTED if untested else MET,
        "note": (
            f"Nothing to test in this period: {nothing}. No check failed because none had anything to check."
            if untested
            else ""
        ),
        "findings": findings,
        "figures": figures,
        "links": [link for link in links if link is not None],
    }


def _period_params(period: Period) -> dict[str, str]:
    tz = timezone.get_current_timezone()
    last = (period.end - datetime.resolution).astimezone(tz).date()
    return {"start": period.start.astimezone(tz).date().isoformat(), "end": last.isoformat()}


def evidence_pack(
    period: Period, *, params: dict[str, str] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Every control with its live figures, status and links, for ``period``.

    ``params`` are the query parameters that chose the period (they are repeated on the links
    to the exports and the dashboard); by default the period's first and last local days."""
    now = now or timezone.now()
    params = params if params is not None else _period_params(period)
    decisions = decision_figures(period)
    signoffs = signoff_figures(period)
    reviews = review_figures_of_cycle(period, now=now)
    configuration = configuration_figures()
    audit = audit_log_figures(period)
    gaps = gap_figures(now=now)
    verification = log_verification()

    in_period = {"created_at__gte": period.start.isoformat(), "created_at__lt": period.end.isoformat()}
    logged_in_period = {"timestamp__gte": period.start.isoformat(), "timestamp__lt": period.end.isoformat()}
    dashboard = _link("Review dashboard", "decisions:review", query=params)
    reports = _link("Review reports", "decisions:review-reports")

    def export(dataset: str, fmt: str = "csv") -> dict[str, str] | None:
        return _link(f"Export: {dataset} ({fmt.upper()})", "decisions:review-export", dataset, fmt, query=params)

    audit_log = _link("Audit log (changes in the period)", "admin:auditlog_logentry_changelist", query=logged_in_period)
    decisions_admin = _link(
        "Decisions in the period (admin)", "admin:decisions_decisionrequest_changelist", query=in_period
    )

    production_share = _share(decisions["production_human_verdict"], decisions["production_closed"])
    pushed_back = signoffs["overrides"] + signoffs["rejections"]
    human_signoffs = pushed_back + signoffs["approvals"]
    chain_gaps = gaps["by_kind"][GapKind.CHAIN_WITHOUT_HUMAN]

    controls = [
        _control(
            key="nist-csf-gv-rm-01",
            framework="NIST CSF 2.0",
            reference="GV.RM-01",
            title="Risk management objectives",
            summary=(
                "The organisation states what it expects from risk management and the accountable people agree "
                "to it. Here, approval policies set how many people must approve an action for each severity and "
                "blast radius, and a governance lead signs off each periodic review of how the decisions went."
            ),
            rule=(
                "Met when at least one approval policy and one review schedule are enabled and no review frozen "
                f"in the period has waited more than {SIGNOFF_GRACE.days} days for its sign-off."
            ),
            checks=[
                (configuration["policies_enabled"] > 0, "No approval policy is enabled."),
                (configuration["review_schedules_enabled"] > 0, "No periodic review schedule is enabled."),
                (reviews["overdue"] == 0, f"{reviews['overdue']} frozen review(s) not signed off in time."),
            ],
            tested=(reviews["frozen"], "no review was frozen"),
            figures=[
                _figure("policies_enabled", "Approval policies enabled", configuration["policies_enabled"]),
                _figure(
                    "review_schedules_enabled", "Review schedules enabled", configuration["review_schedules_enabled"]
                ),
                _figure("reviews_frozen", "Reviews frozen in the period", reviews["frozen"]),
                _figure("reviews_signed_off", "… of which signed off", reviews["signed_off"]),
                _figure("reviews_overdue", f"… unsigned after {SIGNOFF_GRACE.days} days", reviews["overdue"]),
                _figure(
                    "reviews_signed_off_in_period", "Reviews signed off in the period", reviews["signed_off_in_period"]
                ),
                _figure("decisions", "Decisions submitted in the period", decisions["decisions"]),
                _figure("outcomes", "Outcomes reported for them", decisions["outcomes"]),
                _figure(
                    "false_positive_rate",
                    "False-positive rate (of outcomes)",
                    _share(decisions["false_positives"], decisions["outcomes"]),
                    share=True,
                ),
            ],
            links=[
                dashboard,
                reports,
                _link("Approval policies", "admin:governance_approvalpolicy_changelist"),
                _link("Review schedules", "admin:decisions_reviewschedule_changelist"),
            ],
        ),
        _control(
            key="nist-csf-gv-rr-02",
            framework="NIST CSF 2.0",
            reference="GV.RR-02",
            title="Roles, responsibilities and authorities",
            summary=(
                "Who is responsible for which risk decisions is defined, known and enforced. Here, every risky "
                "action type has a named human role as owner, only on-call people certified for that role may "
                "sign, and the person or system that asked for an action can never approve it."
            ),
            rule=(
                "Met when every decision of the period had an owning role, no critical ownership gap exists now, "
                "and no sign-off came from the submitter, an integration account or someone whose certification "
                "was not valid at signing."
            ),
            checks=[
                (decisions["without_owner"] == 0, f"{decisions['without_owner']} decision(s) had no owning role."),
                (gaps["critical"] == 0, f"{gaps['critical']} critical ownership gap(s) now."),
                *_independence_checks(signoffs),
            ],
            tested=(decisions["decisions"], "no decisions were submitted"),
            figures=[
                _figure("decisions_without_owner", "Decisions without an owning role", decisions["without_owner"]),
                _figure("ownership_gaps", "Ownership gaps now", gaps["total"]),
                _figure("critical_gaps", "… of which critical", gaps["critical"]),
                _figure("signoffs", "Sign-offs on the period's decisions", signoffs["signoffs"]),
                *_independence_figures(signoffs),
            ],
            links=[
                dashboard,
                _link("Ownership", "admin:governance_ownershipassignment_changelist"),
                _link("Rosters", "admin:governance_roster_changelist"),
                _link("Certifications", "admin:governance_certification_changelist"),
                export("signoffs"),
            ],
        ),
        _control(
            key="nist-ai-rmf-govern",
            framework="NIST AI RMF 1.0",
            reference="GOVERN",
            title="Govern: accountability for AI risk",
            summary=(
                "Policies, processes and accountability for AI risk exist, are transparent and work in practice. "
                "Here, every change to who owns what and to the approval rules is recorded with the person who "
                "made it, and the log of each AI-assisted decision is hash-chained so that any later edit shows."
            ),
            rule=(
                "Met when the decision log verifies intact now and every audit-log entry of the period names the "
                "person who made the change (the review reports the system freezes on schedule excepted)."
            ),
            checks=[
                (verification["intact"], f"The decision log is broken: {verification['first_break']}."),
                (audit["without_actor"] == 0, f"{audit['without_actor']} change(s) recorded without a person."),
            ],
            tested=(
                verification["events"] + audit["entries"],
                "the decision log is empty and no change was recorded in the audit log",
            ),
            figures=[
                _figure("log_intact", "Decision log intact", verification["intact"]),
                _figure("log_first_break", "First break", verification["first_break"]),
                _figure("log_events", "Events verified", verification["events"]),
                _figure("audit_entries", "Audit-log entries in the period", audit["entries"]),
                _figure("audit_without_actor", "… without a named person", audit["without_actor"]),
                _figure(
                    "audit_reviews_frozen",
                    "… review reports frozen by the system",
                    audit["reviews_frozen_by_system"],
                ),
            ],
            links=[audit_log, export("events", "json"), export("decisions", "json")],
        ),
        _control(
            key="nist-ai-rmf-manage",
            framework="NIST AI RMF 1.0",
            reference="MANAGE",
            title="Manage: responding to AI risk",
            summary=(
                "AI risks are acted on and the responses are tracked. Here, a decision nobody takes in time expires "
                "without any action (fail safe), people change or stop AI recommendations with a stated reason, "
                "and the outcome of each action comes back to be measured."
            ),
            rule=(
                "Met when every override and rejection of the period carries a rationale and no escalation chain "
                "would approve a production-changing action without a human."
            ),
            checks=[
                (
                    signoffs["overrides_with_rationale"] == signoffs["overrides"]
                    and signoffs["rejections_with_rationale"] == signoffs["rejections"],
                    "Some overrides or rejections carry no rationale.",
                ),
                (chain_gaps == 0, f"{chain_gaps} escalation chain(s) end by approving production changes."),
            ],
            tested=(decisions["decisions"], "no decisions were submitted"),
            figures=[
                _figure("expired", "Expired: no action taken (fail safe)", decisions["expired"]),
                _figure("auto_at_chain_end", "Auto-approved at the end of a chain", decisions["auto_at_chain_end"]),
                _figure("rejected_by_chain_end", "Rejected at the end of a chain", decisions["rejected_by_chain_end"]),
                _figure("overrides", "Overrides", signoffs["overrides"]),
                _figure("overrides_with_rationale", "… with a rationale", signoffs["overrides_with_rationale"]),
                _figure("rejections", "Rejections", signoffs["rejections"]),
                _figure("rejections_with_rationale", "… with a rationale", signoffs["rejections_with_rationale"]),
                _figure("outcomes", "Outcomes reported", decisions["outcomes"]),
                _figure("false_positives", "False positives reported", decisions["false_positives"]),
                _figure("reverted", "Actions reverted", decisions["reverted"]),
                _figure("chains_without_human", "Chains approving production changes without a human", chain_gaps),
            ],
            links=[
                dashboard,
                _link("Escalation chains", "admin:governance_escalationchain_changelist"),
                export("decisions"),
                export("signoffs"),
            ],
        ),
        _control(
            key="owasp-excessive-agency",
            framework="OWASP GenAI Security Project",
            reference="LLM06:2025",
            title="Excessive agency",
            summary=(
                "An AI agent holds more functions, permissions or autonomy than its task needs, so a wrong or "
                "manipulated output turns into harm. Here, the AI only recommends: nothing runs without a human "
                "verdict except action types that change nothing in production, touch no regulated data and "
                "that a policy explicitly lets through."
            ),
            rule=(
                "Met when no auto-approval of the period falls outside what is allowed (system-owned action types "
                "at intake; harmless ones at the end of a chain) and no production-changing action was approved "
                "without a human."
            ),
            checks=[
                (decisions["auto_violations"] == 0, f"{decisions['auto_violations']} auto-approval(s) not allowed."),
                (
                    decisions["production_auto_approved"] == 0,
                    f"{decisions['production_auto_approved']} production change(s) approved without a human.",
                ),
            ],
            tested=(decisions["decisions"], "no decisions were submitted"),
            figures=[
                _figure("production_closed", "Production-changing decisions closed", decisions["production_closed"]),
                _figure("production_human_verdict", "… with a human verdict", decisions["production_human_verdict"]),
                _figure("production_human_share", "… share with a human verdict", production_share, share=True),
                _figure("production_expired", "… expired without action", decisions["production_expired"]),
                _figure(
                    "production_auto_approved",
                    "… approved without a human (must be 0)",
                    decisions["production_auto_approved"],
                ),
                _figure("auto_approved", "Auto-approved decisions", decisions["auto_approved"]),
                _figure("auto_at_intake", "… at intake", decisions["auto_at_intake"]),
                _figure("auto_violations", "… outside what is allowed (must be 0)", decisions["auto_violations"]),
            ],
            links=[
                _link("Action types", "admin:governance_actiontype_changelist"),
                _link("Approval policies", "admin:governance_approvalpolicy_changelist"),
                decisions_admin,
                export("decisions"),
            ],
        ),
        _control(
            key="owasp-human-agent-trust-exploitation",
            framework="OWASP GenAI Security Project",
            reference="ASI09:2026",
            title="Human-agent trust exploitation",
            summary=(
                "A fluent, confident agent (or whoever steers it) leads people to approve harmful actions without "
                "real scrutiny, and the approval then looks like a deliberate human choice. Here, signers are "
                "independent of the requester and verified as trained; overrides and rejections show that they "
                "push back; approvals given within a minute of submission are counted for the review."
            ),
            rule=(
                "Met when no sign-off came from the submitter or an integration account and every signer held a "
                "valid certification at signing. The quick approvals are shown for judgement, not scored."
            ),
            checks=[
                *_independence_checks(signoffs),
            ],
            tested=(signoffs["signoffs"], "no sign-offs were given"),
            figures=[
                _figure("human_signoffs", "Live human verdicts", human_signoffs),
                _figure("pushed_back", "… overrides and rejections", pushed_back),
                _figure(
                    "push_back_share",
                    "… share overriding or rejecting",
                    _share(pushed_back, human_signoffs),
                    share=True,
                ),
                _figure(
                    "quick_approvals",
                    f"Approvals within {int(QUICK_APPROVAL.total_seconds())} s of submission",
                    signoffs["quick_approvals"],
                ),
                *_independence_figures(signoffs),
            ],
            links=[
                _link("Sign-offs (admin)", "admin:decisions_signoff_changelist"),
                export("signoffs"),
                dashboard,
            ],
        ),
    ]
    return {
        "generated_at": iso(now),
        "period": {"start": iso(period.start), "end": iso(period.end)},
        "summary": {
            "controls": len(controls),
            "met": sum(1 for c in controls if c["status"] == MET),
            "attention": sum(1 for c in controls if c["status"] == ATTENTION),
            "untested": sum(1 for c in controls if c["status"] == UNTESTED),
        },
        "controls": controls,
        "log_verification": verification,
        "figures": {
            "decisions": decisions,
            "signoffs": signoffs,
            "reviews": reviews,
            "configuration": configuration,
            "audit_log": audit,
            "gaps": gaps,
        },
        "exports": [link for name in DATASETS for fmt in ("csv", "json") if (link := export(name, fmt)) is not None],
    }
