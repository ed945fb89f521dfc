"""The controls from NIST CSF 2.0, the NIST AI RMF 1.0 and OWASP's agentic-AI risks."""

from __future__ import annotations

from decisions.review.controls.base import (
    Control,
    auto_approval_checks,
    decisions_tested,
    false_positive_rate,
    figure,
    independence_checks,
    independence_figures,
    share,
)
from decisions.review.evidence_figures import QUICK_APPROVAL, SIGNOFF_GRACE

GV_RM_01 = Control(
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
    checks=lambda f: [
        (f.configuration["policies_enabled"] > 0, "No approval policy is enabled."),
        (f.configuration["review_schedules_enabled"] > 0, "No periodic review schedule is enabled."),
        (f.reviews["overdue"] == 0, f"{f.reviews['overdue']} frozen review(s) not signed off in time."),
    ],
    tested=lambda f: (f.reviews["frozen"], "no review was frozen"),
    figures=lambda f: [
        figure("policies_enabled", "Approval policies enabled", f.configuration["policies_enabled"]),
        figure("review_schedules_enabled", "Review schedules enabled", f.configuration["review_schedules_enabled"]),
        figure("reviews_frozen", "Reviews frozen in the period", f.reviews["frozen"]),
        figure("reviews_signed_off", "… of which signed off", f.reviews["signed_off"]),
        figure("reviews_overdue", f"… unsigned after {SIGNOFF_GRACE.days} days", f.reviews["overdue"]),
        figure("reviews_signed_off_in_period", "Reviews signed off in the period", f.reviews["signed_off_in_period"]),
        figure("decisions", "Decisions submitted in the period", f.decisions["decisions"]),
        figure("outcomes", "Outcomes reported for them", f.decisions["outcomes"]),
        false_positive_rate(f),
    ],
    links=lambda f: [
        f.links.dashboard,
        f.links.reports,
        f.links.admin("Approval policies", "admin:governance_approvalpolicy_changelist"),
        f.links.admin("Review schedules", "admin:decisions_reviewschedule_changelist"),
    ],
)

GV_RR_02 = Control(
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
    checks=lambda f: [
        (f.decisions["without_owner"] == 0, f"{f.decisions['without_owner']} decision(s) had no owning role."),
        (f.gaps["critical"] == 0, f"{f.gaps['critical']} critical ownership gap(s) now."),
        *independence_checks(f),
    ],
    tested=decisions_tested,
    figures=lambda f: [
        figure("decisions_without_owner", "Decisions without an owning role", f.decisions["without_owner"]),
        figure("ownership_gaps", "Ownership gaps now", f.gaps["total"]),
        figure("critical_gaps", "… of which critical", f.gaps["critical"]),
        figure("signoffs", "Sign-offs on the period's decisions", f.signoffs["signoffs"]),
        *independence_figures(f),
    ],
    links=lambda f: [
        f.links.dashboard,
        f.links.admin("Ownership", "admin:governance_ownershipassignment_changelist"),
        f.links.admin("Rosters", "admin:governance_roster_changelist"),
        f.links.admin("Certifications", "admin:governance_certification_changelist"),
        f.links.export("signoffs"),
    ],
)

AI_RMF_GOVERN = Control(
    key="nist-ai-rmf-govern",
    framework="NIST AI RMF 1.0",
    reference="GOVERN",
    title="Govern: accountability for AI risk",
    summary=(
        "Policies, processes and accountability for AI risk exist, are transparent and work in practice. "
        "Here, every change to who owns what and to the approval rules is recorded with the person who "
        "made it, and every AI-assisted decision's events are leaves of one signed log, checkpointed "
        "outside the database, so that any later edit, deletion or reordering shows."
    ),
    rule=(
        "Met when the decision log verifies intact now and every audit-log entry of the period names the "
        "person who made the change (the review reports the system freezes on schedule excepted)."
    ),
    checks=lambda f: [
        (f.verification["intact"], f"The decision log is broken: {f.verification['first_break']}."),
        (f.audit["without_actor"] == 0, f"{f.audit['without_actor']} change(s) recorded without a person."),
    ],
    tested=lambda f: (
        f.verification["events"] + f.audit["entries"],
        "the decision log is empty and no change was recorded in the audit log",
    ),
    figures=lambda f: [
        figure("log_intact", "Decision log intact", f.verification["intact"]),
        figure("log_first_break", "First break", f.verification["first_break"]),
        figure("log_events", "Events verified", f.verification["events"]),
        figure("log_checkpoint_size", "… in the newest signed checkpoint", f.verification.get("checkpoint_size", 0)),
        figure("log_unsequenced", "… newer, proven by their own chains", f.verification.get("unsequenced", 0)),
        figure("log_last_full", "Last full verification", f.verification.get("last_full_verified_at") or "never"),
        figure("audit_entries", "Audit-log entries in the period", f.audit["entries"]),
        figure("audit_without_actor", "… without a named person", f.audit["without_actor"]),
        figure("audit_reviews_frozen", "… review reports frozen by the system", f.audit["reviews_frozen_by_system"]),
    ],
    links=lambda f: [f.links.audit_log, f.links.export("events", "json"), f.links.export("decisions", "json")],
)

AI_RMF_MANAGE = Control(
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
    checks=lambda f: [
        (
            f.signoffs["overrides_with_rationale"] == f.signoffs["overrides"]
            and f.signoffs["rejections_with_rationale"] == f.signoffs["rejections"],
            "Some overrides or rejections carry no rationale.",
        ),
        (f.chain_gaps == 0, f"{f.chain_gaps} escalation chain(s) end by approving production changes."),
    ],
    tested=decisions_tested,
    figures=lambda f: [
        figure("expired", "Expired: no action taken (fail safe)", f.decisions["expired"]),
        figure("auto_at_chain_end", "Auto-approved at the end of a chain", f.decisions["auto_at_chain_end"]),
        figure("rejected_by_chain_end", "Rejected at the end of a chain", f.decisions["rejected_by_chain_end"]),
        figure("overrides", "Overrides", f.signoffs["overrides"]),
        figure("overrides_with_rationale", "… with a rationale", f.signoffs["overrides_with_rationale"]),
        figure("rejections", "Rejections", f.signoffs["rejections"]),
        figure("rejections_with_rationale", "… with a rationale", f.signoffs["rejections_with_rationale"]),
        figure("outcomes", "Outcomes reported", f.decisions["outcomes"]),
        figure("false_positives", "False positives reported", f.decisions["false_positives"]),
        figure("reverted", "Actions reverted", f.decisions["reverted"]),
        figure("chains_without_human", "Chains approving production changes without a human", f.chain_gaps),
    ],
    links=lambda f: [
        f.links.dashboard,
        f.links.admin("Escalation chains", "admin:governance_escalationchain_changelist"),
        f.links.export("decisions"),
        f.links.export("signoffs"),
    ],
)

OWASP_EXCESSIVE_AGENCY = Control(
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
    checks=auto_approval_checks,
    tested=decisions_tested,
    figures=lambda f: [
        figure("production_closed", "Production-changing decisions closed", f.decisions["production_closed"]),
        figure("production_human_verdict", "… with a human verdict", f.decisions["production_human_verdict"]),
        figure(
            "production_human_share",
            "… share with a human verdict",
            share(f.decisions["production_human_verdict"], f.decisions["production_closed"]),
            is_share=True,
        ),
        figure("production_expired", "… expired without action", f.decisions["production_expired"]),
        figure(
            "production_auto_approved",
            "… approved without a human (must be 0)",
            f.decisions["production_auto_approved"],
        ),
        figure("auto_approved", "Auto-approved decisions", f.decisions["auto_approved"]),
        figure("auto_at_intake", "… at intake", f.decisions["auto_at_intake"]),
        figure("auto_violations", "… outside what is allowed (must be 0)", f.decisions["auto_violations"]),
    ],
    links=lambda f: [
        f.links.admin("Action types", "admin:governance_actiontype_changelist"),
        f.links.admin("Approval policies", "admin:governance_approvalpolicy_changelist"),
        f.links.decisions_admin,
        f.links.export("decisions"),
    ],
)

OWASP_TRUST_EXPLOITATION = Control(
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
    checks=independence_checks,
    tested=lambda f: (f.signoffs["signoffs"], "no sign-offs were given"),
    figures=lambda f: [
        figure("human_signoffs", "Live human verdicts", f.human_signoffs),
        figure("pushed_back", "… overrides and rejections", f.pushed_back),
        figure(
            "push_back_share", "… share overriding or rejecting", share(f.pushed_back, f.human_signoffs), is_share=True
        ),
        figure(
            "quick_approvals",
            f"Approvals within {int(QUICK_APPROVAL.total_seconds())} s of submission",
            f.signoffs["quick_approvals"],
        ),
        *independence_figures(f),
    ],
    links=lambda f: [
        f.links.admin("Sign-offs (admin)", "admin:decisions_signoff_changelist"),
        f.links.export("signoffs"),
        f.links.dashboard,
    ],
)


NIST_OWASP: tuple[Control, ...] = (
    GV_RM_01,
    GV_RR_02,
    AI_RMF_GOVERN,
    AI_RMF_MANAGE,
    OWASP_EXCESSIVE_AGENCY,
    OWASP_TRUST_EXPLOITATION,
)
