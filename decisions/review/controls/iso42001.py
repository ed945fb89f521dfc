"""The controls from ISO/IEC 42001:2023 (AI management systems), Annex A: roles, resources,
operation and monitoring, event logs, responsible use."""

from __future__ import annotations

from decisions.review.controls.base import (
    Control,
    Facts,
    auto_approval_checks,
    decisions_tested,
    false_positive_rate,
    figure,
)
from decisions.review.controls.eu_ai_act import STALL_MINUTES, WAIT_MINUTES, stalled_check
from governance.gaps import GapKind

FRAMEWORK = "ISO/IEC 42001:2023 Annex A"


def _configured(f: Facts) -> tuple[int, str]:
    return f.retention["action_types"], "no action type is configured"


def _gap_check(f: Facts, kind: str, message: str) -> tuple[bool, str]:
    return f.gaps_of(kind) == 0, f"{f.gaps_of(kind)} {message}"


def _log_waiting_check(f: Facts) -> tuple[bool, str]:
    stale = f.operation["log_waiting_stale"]
    return stale == 0, f"{stale} event(s) waiting more than {WAIT_MINUTES} minutes to enter the signed log."


A_3_2 = Control(
    key="iso-42001-a-3-2",
    framework=FRAMEWORK,
    reference="A.3.2",
    title="AI roles and responsibilities",
    summary=(
        "Roles and responsibilities for AI are defined and allocated. Here, every action type an AI may "
        "recommend has one owning human role at any instant (never an AI or a queue), rosters say who in "
        "that role is on call, and each decision records the role that owned it when it was routed."
    ),
    rule=(
        "Met when every action type that needs a human has an owner now and for the next 14 days, every owning "
        "role has someone on call for the next 14 days, and every decision of the period had an owning role."
    ),
    checks=lambda f: [
        _gap_check(f, GapKind.UNOWNED_ACTION_TYPE, "action type(s) without an owner now or within 14 days."),
        _gap_check(f, GapKind.UNCOVERED_ROLE, "owning role(s) with nobody on call for some hours."),
        (f.decisions["without_owner"] == 0, f"{f.decisions['without_owner']} decision(s) had no owning role."),
    ],
    tested=_configured,
    figures=lambda f: [
        figure("action_types", "Action types configured", f.retention["action_types"]),
        figure(
            "unowned_action_types", "… without an owner now or within 14 days", f.gaps_of(GapKind.UNOWNED_ACTION_TYPE)
        ),
        figure("uncovered_roles", "Owning roles with uncovered hours", f.gaps_of(GapKind.UNCOVERED_ROLE)),
        figure(
            "decisions_without_owner", "Decisions of the period without an owning role", f.decisions["without_owner"]
        ),
    ],
    links=lambda f: [
        f.links.admin("Ownership", "admin:governance_ownershipassignment_changelist"),
        f.links.admin("Decision roles", "admin:governance_decisionrole_changelist"),
        f.links.admin("Rosters", "admin:governance_roster_changelist"),
    ],
)

A_4_6 = Control(
    key="iso-42001-a-4-6",
    framework=FRAMEWORK,
    reference="A.4 (A.4.6)",
    title="Resources: the people and their competence",
    summary=(
        "The human resources the AI system needs, and their competence, are identified and documented. Here, "
        "rosters provide people for every owning role around the clock, and certifications (with a validity "
        "period and the course or exam they rest on) say who is trained for which role or action type."
    ),
    rule=(
        "Met when nobody on call now lacks a valid certification, every owning role has someone on call for "
        "the next 14 days, and every sign-off of the period was given on a certification valid at that instant. "
        "Certifications expiring within 30 days are shown, not scored."
    ),
    checks=lambda f: [
        _gap_check(f, GapKind.UNCERTIFIED_ON_CALL, "on-call member(s) without a valid certification now."),
        _gap_check(f, GapKind.UNCOVERED_ROLE, "owning role(s) with nobody on call for some hours."),
        (
            f.signoffs["certification_not_valid"] == 0,
            f"{f.signoffs['certification_not_valid']} sign-off(s) without a valid certification.",
        ),
    ],
    tested=_configured,
    figures=lambda f: [
        figure(
            "uncertified_on_call",
            "On-call members without a valid certification",
            f.gaps_of(GapKind.UNCERTIFIED_ON_CALL),
        ),
        figure("uncovered_roles", "Owning roles with uncovered hours", f.gaps_of(GapKind.UNCOVERED_ROLE)),
        figure(
            "certifications_expiring",
            "Certifications expiring within 30 days",
            f.gaps_of(GapKind.CERTIFICATION_EXPIRING),
        ),
        figure("signoffs", "Sign-offs on the period's decisions", f.signoffs["signoffs"]),
        figure(
            "signoffs_certification_not_valid",
            "… whose certification was not valid at signing (must be 0)",
            f.signoffs["certification_not_valid"],
        ),
    ],
    links=lambda f: [
        f.links.admin("Certifications", "admin:governance_certification_changelist"),
        f.links.admin("Rosters", "admin:governance_roster_changelist"),
    ],
)

A_6_2_6 = Control(
    key="iso-42001-a-6-2-6",
    framework=FRAMEWORK,
    reference="A.6.2.6",
    title="AI system operation and monitoring",
    summary=(
        "The AI system's operation is monitored. Here, every decision has a deadline kept in the database; "
        "deadline tasks and a sweep every few seconds move an overdue decision to the next role; every event "
        "enters the signed log within seconds; and the review cycle freezes each period's figures."
    ),
    rule=(
        f"Met when no pending decision is more than {STALL_MINUTES} minutes past its deadline now, no event has "
        f"waited more than {WAIT_MINUTES} minutes to enter the signed log, and a review schedule is enabled."
    ),
    checks=lambda f: [
        stalled_check(f),
        _log_waiting_check(f),
        (f.configuration["review_schedules_enabled"] > 0, "No periodic review schedule is enabled."),
    ],
    tested=lambda f: (
        f.decisions["decisions"] + f.operation["pending"] + f.operation["log_waiting"],
        "no decision was submitted in the period and nothing is pending",
    ),
    figures=lambda f: [
        figure("pending", "Decisions pending now", f.operation["pending"]),
        figure(
            "stalled", f"… more than {STALL_MINUTES} minutes past their deadline (must be 0)", f.operation["stalled"]
        ),
        figure("escalations_expired", "Expired at the end of a chain (no action)", f.decisions["expired"]),
        figure("log_waiting", "Events waiting to enter the log", f.operation["log_waiting"]),
        figure(
            "log_waiting_stale", f"… for more than {WAIT_MINUTES} minutes (must be 0)", f.operation["log_waiting_stale"]
        ),
        figure("review_schedules_enabled", "Review schedules enabled", f.configuration["review_schedules_enabled"]),
    ],
    links=lambda f: [f.links.dashboard, f.links.decisions_admin, f.links.reports],
)

A_6_2_8 = Control(
    key="iso-42001-a-6-2-8",
    framework=FRAMEWORK,
    reference="A.6.2.8",
    title="AI system recording of event logs",
    summary=(
        "Event logs are recorded and kept. Here, every event of every decision is a leaf of one append-only "
        "Merkle log whose signed checkpoints are kept outside the database; verification runs after every "
        "checkpoint (incrementally) and every day (in full), and a receipt proves one decision offline."
    ),
    rule=(
        "Met when the decision log verifies intact now, a full verification found it intact within twice the "
        "full-verification interval (LEDGER_FULL_VERIFY_SECONDS, at least a day) unless the log is empty, and "
        "no event has waited more "
        f"than {WAIT_MINUTES} minutes to enter the signed log."
    ),
    checks=lambda f: [
        (f.verification["intact"], f"The decision log is broken: {f.verification['first_break']}."),
        (
            not f.operation["full_verification_overdue"] or f.verification["events"] == 0,
            f"No full verification found the log intact in the last {f.operation['full_verification_due_days']} days.",
        ),
        _log_waiting_check(f),
    ],
    tested=lambda f: (f.verification["events"], "the decision log is empty"),
    figures=lambda f: [
        figure("log_intact", "Decision log intact", f.verification["intact"]),
        figure("log_events", "Events in the log", f.verification["events"]),
        figure("log_checkpoint_size", "… in the newest signed checkpoint", f.verification.get("checkpoint_size", 0)),
        figure("log_last_full", "Last full verification", f.verification.get("last_full_verified_at") or "never"),
        figure("full_verification_overdue", "Full verification overdue", f.operation["full_verification_overdue"]),
        figure(
            "log_waiting_stale", f"Events waiting more than {WAIT_MINUTES} minutes", f.operation["log_waiting_stale"]
        ),
    ],
    links=lambda f: [f.links.export("events", "json"), f.links.audit_log],
)

A_9 = Control(
    key="iso-42001-a-9",
    framework=FRAMEWORK,
    reference="A.9 (A.9.2-A.9.4)",
    title="Use of AI systems: responsible use within the intended use",
    summary=(
        "AI systems are used responsibly, for their intended use, with processes that say how. Here, an "
        "integration may only submit the action types it is allowed; the AI only recommends; nothing runs "
        "without a human verdict except action types that change nothing and that a policy lets through; and "
        "the outcome of each action comes back to be measured in the review."
    ),
    rule=(
        "Met when no auto-approval of the period falls outside what is allowed and no production-changing "
        "action was approved without a human. Outcomes and false positives are shown, not scored."
    ),
    checks=auto_approval_checks,
    tested=decisions_tested,
    figures=lambda f: [
        figure("decisions", "Decisions submitted in the period", f.decisions["decisions"]),
        figure("human_verdicts", "… closed by a human verdict", f.decisions["human_verdicts"]),
        figure("auto_approved", "… auto-approved", f.decisions["auto_approved"]),
        figure("auto_violations", "… outside what is allowed (must be 0)", f.decisions["auto_violations"]),
        figure(
            "production_auto_approved",
            "Production changes approved without a human (must be 0)",
            f.decisions["production_auto_approved"],
        ),
        figure("outcomes", "Outcomes reported", f.decisions["outcomes"]),
        false_positive_rate(f),
    ],
    links=lambda f: [
        f.links.admin("Integrations", "admin:decisions_integration_changelist"),
        f.links.admin("Approval policies", "admin:governance_approvalpolicy_changelist"),
        f.links.dashboard,
    ],
)

ISO_42001: tuple[Control, ...] = (A_3_2, A_4_6, A_6_2_6, A_6_2_8, A_9)
