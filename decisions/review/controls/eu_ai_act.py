"""The controls from the EU AI Act (Regulation (EU) 2024/1689): the human-oversight duties of
Art. 14(4) as this product carries them out, and the deployer's duties of Art. 26(2), (5), (6)."""

from __future__ import annotations

from decisions.review.controls.base import (
    Control,
    Facts,
    decisions_tested,
    false_positive_rate,
    figure,
    independence_checks,
    independence_figures,
    share,
)
from decisions.review.evidence_figures import LOG_WAIT_GRACE, QUICK_APPROVAL, SIGNOFF_GRACE, STALL_GRACE
from governance.gaps import GapKind

FRAMEWORK = "EU AI Act"
STALL_MINUTES = int(STALL_GRACE.total_seconds() // 60)
WAIT_MINUTES = int(LOG_WAIT_GRACE.total_seconds() // 60)


def stalled_check(f: Facts) -> tuple[bool, str]:
    """The escalation engine runs: no pending decision is long past its deadline now."""
    stalled = f.operation["stalled"]
    return stalled == 0, f"{stalled} pending decision(s) more than {STALL_MINUTES} minutes past their deadline now."


ART_14_4 = Control(
    key="eu-ai-act-art-14-4",
    framework=FRAMEWORK,
    reference="Art. 14(4)(a)-(e)",
    title="Human oversight: understand, resist automation bias, interpret, override, halt",
    summary=(
        "The people overseeing a high-risk AI system must be able to (a) understand its capacities and "
        "limits, (b) stay aware of automation bias, (c) interpret its output, (d) decide not to use it, "
        "override or reverse it, and (e) intervene or stop it. Here, each decision package shows the model, "
        "its version, its confidence and its evidence; every verdict carries a reason code and a written "
        "rationale; a signer approves, overrides (changes the action) or rejects; an outcome can report the "
        "action reverted; and a decision nobody takes in time expires without any action."
    ),
    rule=(
        "Met when every decision of the period names the model version that recommended it, every live human "
        "verdict carries a written rationale, and no production-changing action went through without a human "
        f"verdict. Approvals within {int(QUICK_APPROVAL.total_seconds())} s of submission and the share of "
        "overrides and rejections are shown to judge automation bias, not scored."
    ),
    checks=lambda f: [
        (
            f.decisions["without_model_version"] == 0,
            f"{f.decisions['without_model_version']} decision(s) do not name the model version that recommended them.",
        ),
        (
            f.signoffs["live_with_rationale"] == f.signoffs["live"],
            f"{f.signoffs['live'] - f.signoffs['live_with_rationale']} verdict(s) without a written rationale.",
        ),
        (
            f.decisions["production_auto_approved"] == 0,
            f"{f.decisions['production_auto_approved']} production change(s) approved without a human.",
        ),
    ],
    tested=decisions_tested,
    figures=lambda f: [
        figure("decisions", "(a) Decisions submitted in the period", f.decisions["decisions"]),
        figure(
            "without_model_version", "… not naming the model version (must be 0)", f.decisions["without_model_version"]
        ),
        figure(
            "quick_approvals",
            f"(b) Approvals within {int(QUICK_APPROVAL.total_seconds())} s of submission",
            f.signoffs["quick_approvals"],
        ),
        figure(
            "push_back_share",
            "(b) Share of verdicts overriding or rejecting",
            share(f.pushed_back, f.human_signoffs),
            is_share=True,
        ),
        figure("live_signoffs", "(c) Live verdicts", f.signoffs["live"]),
        figure("live_with_rationale", "… with a written rationale", f.signoffs["live_with_rationale"]),
        figure("overrides", "(d) Overrides", f.signoffs["overrides"]),
        figure("rejections", "(d) Rejections", f.signoffs["rejections"]),
        figure("reverted", "(d) Actions reported reverted", f.decisions["reverted"]),
        figure("expired", "(e) Expired without action (fail safe)", f.decisions["expired"]),
        figure("cancelled", "(e) Withdrawn before a verdict", f.decisions["cancelled"]),
        figure(
            "production_auto_approved",
            "Production changes approved without a human (must be 0)",
            f.decisions["production_auto_approved"],
        ),
    ],
    links=lambda f: [
        f.links.dashboard,
        f.links.decisions_admin,
        f.links.export("signoffs"),
        f.links.export("decisions"),
    ],
)

ART_26_2 = Control(
    key="eu-ai-act-art-26-2",
    framework=FRAMEWORK,
    reference="Art. 26(2)",
    title="Oversight by people with the competence, training and authority",
    summary=(
        "Deployers assign human oversight to people who have the necessary competence, training and "
        "authority, and the support they need. Here, only people on call for the owning role and holding a "
        "certification for it (or for the action type) may sign, the certification is checked at the instant "
        "of signing, and neither the submitter nor an integration's account can ever sign."
    ),
    rule=(
        "Met when every sign-off of the period came from a person whose certification for the role (or the "
        "action type) was valid at that instant, none came from the submitter or an integration account, and "
        "nobody on call now lacks a valid certification."
    ),
    checks=lambda f: [
        *independence_checks(f),
        (
            f.gaps_of(GapKind.UNCERTIFIED_ON_CALL) == 0,
            f"{f.gaps_of(GapKind.UNCERTIFIED_ON_CALL)} on-call member(s) without a valid certification now.",
        ),
    ],
    tested=lambda f: (f.signoffs["signoffs"], "no sign-offs were given"),
    figures=lambda f: [
        figure("signoffs", "Sign-offs on the period's decisions", f.signoffs["signoffs"]),
        figure(
            "certified_share",
            "… share whose signer held a valid certification at that instant",
            share(f.signoffs["signoffs"] - f.signoffs["certification_not_valid"], f.signoffs["signoffs"]),
            is_share=True,
        ),
        *independence_figures(f),
        figure(
            "uncertified_on_call",
            "On-call members without a valid certification now (must be 0)",
            f.gaps_of(GapKind.UNCERTIFIED_ON_CALL),
        ),
        figure(
            "certifications_expiring",
            "Certifications expiring within 30 days",
            f.gaps_of(GapKind.CERTIFICATION_EXPIRING),
        ),
    ],
    links=lambda f: [
        f.links.admin("Certifications", "admin:governance_certification_changelist"),
        f.links.admin("Rosters", "admin:governance_roster_changelist"),
        f.links.export("signoffs"),
    ],
)

ART_26_5 = Control(
    key="eu-ai-act-art-26-5",
    framework=FRAMEWORK,
    reference="Art. 26(5)",
    title="Monitoring the operation; suspending use",
    summary=(
        "Deployers monitor the system's operation and, when they have reason to think it presents a risk, "
        "suspend its use and inform the provider. Here, the review cycle freezes each period's figures for a "
        "governance lead to sign off; outcomes (false positives, reverted actions) come back from the "
        "integrations; a lead suspends an integration by deactivating it (its key stops working at once) or "
        "disables a policy; and the escalation engine moves every overdue decision on within seconds."
    ),
    rule=(
        "Met when a review schedule is enabled, no review frozen in the period waited more than "
        f"{SIGNOFF_GRACE.days} days for its sign-off, and no pending decision is more than {STALL_MINUTES} "
        "minutes past its deadline now (the escalation engine runs)."
    ),
    checks=lambda f: [
        (f.configuration["review_schedules_enabled"] > 0, "No periodic review schedule is enabled."),
        (f.reviews["overdue"] == 0, f"{f.reviews['overdue']} frozen review(s) not signed off in time."),
        stalled_check(f),
    ],
    tested=lambda f: (
        f.decisions["decisions"] + f.reviews["frozen"] + f.operation["pending"],
        "no decision was submitted, none is pending and no review was frozen",
    ),
    figures=lambda f: [
        figure("review_schedules_enabled", "Review schedules enabled", f.configuration["review_schedules_enabled"]),
        figure("reviews_frozen", "Reviews frozen in the period", f.reviews["frozen"]),
        figure("reviews_signed_off", "… of which signed off", f.reviews["signed_off"]),
        figure("reviews_overdue", f"… unsigned after {SIGNOFF_GRACE.days} days", f.reviews["overdue"]),
        figure("outcomes", "Outcomes reported", f.decisions["outcomes"]),
        false_positive_rate(f),
        figure("reverted", "Actions reverted", f.decisions["reverted"]),
        figure("integrations_active", "Integrations allowed to submit now", f.configuration["integrations_active"]),
        figure(
            "integrations_suspended", "Integrations suspended (deactivated)", f.configuration["integrations_suspended"]
        ),
        figure("pending", "Decisions pending now", f.operation["pending"]),
        figure(
            "stalled", f"… more than {STALL_MINUTES} minutes past their deadline (must be 0)", f.operation["stalled"]
        ),
    ],
    links=lambda f: [
        f.links.dashboard,
        f.links.reports,
        f.links.admin("Integrations", "admin:decisions_integration_changelist"),
        f.links.admin("Approval policies", "admin:governance_approvalpolicy_changelist"),
    ],
)


def _retention_checks(f: Facts) -> list[tuple[bool, str]]:
    r = f.retention
    return [
        (
            r["below_minimum"] == 0,
            f"{r['below_minimum']} action type(s) keep their decisions less than {r['minimum_months']} months.",
        ),
        (f.verification["intact"], f"The decision log is broken: {f.verification['first_break']}."),
        (
            r["removed_early"] == 0,
            f"{r['removed_early']} decision(s) were removed before their retention period had passed.",
        ),
    ]


ART_26_6 = Control(
    key="eu-ai-act-art-26-6",
    framework=FRAMEWORK,
    reference="Art. 26(6)",
    title="Logs kept at least six months",
    summary=(
        "Deployers keep the logs the system generates automatically, as far as they control them, for at "
        "least six months. Here, every decision's events are leaves of one signed log; each action type sets "
        "how long its closed decisions are kept (at least six months, a database constraint); only the "
        "retention service removes them, after archiving them to an export and signing a checkpoint that "
        "still proves them, and never while a legal hold covers them."
    ),
    rule=(
        "Met when every action type keeps its decisions at least six months, the decision log verifies intact "
        "now, and no retention run removed a decision before its action type's retention period had passed. "
        "The oldest decision held is shown against the shortest retention setting."
    ),
    checks=_retention_checks,
    tested=lambda f: (f.retention["action_types"], "no action type is configured"),
    figures=lambda f: [
        figure("retention_minimum_months", "Minimum retention (months)", f.retention["minimum_months"]),
        figure(
            "retention_shortest_months",
            "Shortest retention set on an action type (months)",
            f.retention["shortest_months"],
        ),
        figure("retention_longest_months", "Longest retention set (months)", f.retention["longest_months"]),
        figure("retention_below_minimum", "Action types below the minimum (must be 0)", f.retention["below_minimum"]),
        figure("oldest_decision_at", "Oldest decision held", f.retention["oldest_decision_at"] or "none"),
        figure("history_days", "… days of history held", f.retention["history_days"]),
        figure("retention_runs", "Retention runs that removed decisions", f.retention["runs"]),
        figure("retention_runs_failed", "Retention runs that failed (nothing removed)", f.retention["runs_failed"]),
        figure("archived_decisions", "Decisions archived and removed", f.retention["archived_decisions"]),
        figure("removed_early", "… before their retention had passed (must be 0)", f.retention["removed_early"]),
        figure("legal_holds", "Legal holds in force", f.retention["holds_active"]),
        figure("log_intact", "Decision log intact", f.verification["intact"]),
        figure("log_events", "Events in the log", f.verification["events"]),
    ],
    links=lambda f: [
        f.links.admin("Action types (retention)", "admin:governance_actiontype_changelist"),
        f.links.admin("Retention runs", "admin:decisions_retentionrun_changelist"),
        f.links.admin("Legal holds", "admin:decisions_legalhold_changelist"),
        f.links.export("events", "json"),
    ],
)

EU_AI_ACT: tuple[Control, ...] = (ART_14_4, ART_26_2, ART_26_5, ART_26_6)

__all__ = ["EU_AI_ACT", "WAIT_MINUTES", "stalled_check"]
