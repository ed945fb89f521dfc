"""The data tables the history simulation draws from: the AI models and their false-positive
rates, how often each action type is recommended, the verdict weights, the reasons and
rationales people give, the outcome notes, the targets a recommendation names, and when
things happen (arrivals busier in office hours and on weekdays, slower answers at night and at
weekends)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from decisions.models import DecisionStatus, OutcomeKind, ReasonCode, Verdict
from governance.models import Level


@dataclass(frozen=True)
class ModelProfile:
    """An AI model version that submits recommendations: how often (relative weight) and how
    often wrongly."""

    name: str
    version: str
    weight: float
    false_positive_rate: float


MODELS = (
    ModelProfile("triage-agent", "2026.09", 0.35, 0.24),
    ModelProfile("triage-agent", "2026.11", 0.35, 0.11),
    ModelProfile("soar-playbook", "7.4", 0.18, 0.06),
    ModelProfile("phish-classifier", "3.2", 0.12, 0.17),
)
# The older triage-agent version is used in the first half of the period, the newer one after.
SUPERSEDES = {"2026.11": "2026.09"}

# How often each demo action type is recommended (relative weights).
ACTION_MIX: dict[str, float] = {
    "enrich-ticket": 18,
    "deduplicate-alert": 14,
    "isolate-host": 13,
    "quarantine-email": 12,
    "block-ip": 10,
    "disable-account": 8,
    "reset-credentials": 8,
    "revoke-leaked-secret": 4,
    "preserve-evidence": 4,
    "eradicate-malware": 4,
    "notify-customers": 2,
    "file-regulatory-report": 1,
}
# Blast radius and severity (cumulative weights over the levels, lowest first).
LEVELS = [level.value for level in Level]
BLAST_RADIUS = list(itertools.accumulate((0.3, 0.42, 0.2, 0.08)))
SEVERITY = list(itertools.accumulate((0.15, 0.4, 0.33, 0.12)))

# The verdict drawn once a human owns a decision (it becomes an expiry when no quorum is possible),
# for a right recommendation and for a false positive.
VERDICTS = ("approve", "override", "reject", "expire", "cancel")
VERDICTS_TRUE = list(itertools.accumulate((0.80, 0.07, 0.04, 0.06, 0.03)))
VERDICTS_FALSE = list(itertools.accumulate((0.38, 0.10, 0.40, 0.08, 0.04)))
GAP_PROBABILITY = 0.02  # the owner stage's people are unavailable (leave, sickness): nobody eligible
# The share of decisions of each status that get an outcome reported later.
OUTCOME_SHARE = {
    DecisionStatus.APPROVED: 0.7,
    DecisionStatus.OVERRIDDEN: 0.7,
    DecisionStatus.REJECTED: 0.45,
    DecisionStatus.AUTO_APPROVED: 0.35,
    DecisionStatus.EXPIRED: 0.3,
}
# The statuses whose action ran (so an outcome may report it reverted).
EXECUTED = frozenset({DecisionStatus.APPROVED, DecisionStatus.OVERRIDDEN, DecisionStatus.AUTO_APPROVED})

RATIONALES = {
    ReasonCode.EVIDENCE_SUFFICIENT: "EDR and proxy logs corroborate the AI's finding; proceed.",
    ReasonCode.POLICY_REQUIRES: "The containment playbook requires this step for this alert class.",
    ReasonCode.BUSINESS_ACCEPTED: "Brief disruption accepted with the business owner on the bridge.",
    ReasonCode.SCOPE_TOO_BROAD: "Narrowed to the affected asset only; the rest of the segment is clean.",
    ReasonCode.WRONG_TARGET: "The AI picked the relay, not the origin; corrected the target.",
    ReasonCode.LESS_DISRUPTIVE: "A time-boxed block is enough while we investigate.",
    ReasonCode.FALSE_POSITIVE: "Known admin tooling, change ticket on file: false positive.",
    ReasonCode.INSUFFICIENT_EVIDENCE: "One weak signal only; asked for more telemetry before acting.",
    ReasonCode.IMPACT_TOO_HIGH: "Production payment service; impact too high without more evidence.",
    ReasonCode.DUPLICATE: "Already handled under an earlier decision for the same incident.",
    ReasonCode.OTHER: "Discussed on the incident bridge; see the ticket for details.",
}
REASON_WEIGHTS = {
    Verdict.APPROVE: ((ReasonCode.EVIDENCE_SUFFICIENT, 6), (ReasonCode.POLICY_REQUIRES, 3), (ReasonCode.BUSINESS_ACCEPTED, 1), (ReasonCode.OTHER, 0.5)),  # noqa: E501
    Verdict.OVERRIDE: ((ReasonCode.SCOPE_TOO_BROAD, 5), (ReasonCode.LESS_DISRUPTIVE, 3), (ReasonCode.WRONG_TARGET, 2), (ReasonCode.OTHER, 0.5)),  # noqa: E501
    Verdict.REJECT: ((ReasonCode.FALSE_POSITIVE, 5), (ReasonCode.INSUFFICIENT_EVIDENCE, 3), (ReasonCode.IMPACT_TOO_HIGH, 2), (ReasonCode.DUPLICATE, 1), (ReasonCode.OTHER, 0.5)),  # noqa: E501
}  # fmt: skip
OUTCOME_NOTES = {
    OutcomeKind.FALSE_POSITIVE: "Post-incident review: benign activity.",
    OutcomeKind.TRUE_POSITIVE: "Confirmed malicious in the post-incident review.",
    OutcomeKind.BENIGN: "Real but harmless.",
}
CANCEL_REASONS = ("Alert auto-closed upstream", "Superseded by a newer recommendation", "Playbook rerun")


def draw_target(slug: str, rng: random.Random, incident: str) -> tuple[str, str, dict[str, Any]]:
    """(title, recommendation, target) for one decision of ``slug``."""
    host = f"{rng.choice(('wks', 'srv', 'lap', 'fin', 'db'))}-{rng.randrange(1, 9999):04d}.corp.example"
    account = f"{rng.choice(('j.doe', 'a.khan', 'm.rossi', 'svc-backup', 'l.chen', 'p.novak'))}@corp.example"
    ip = f"{rng.choice(('203.0.113', '198.51.100', '192.0.2'))}.{rng.randrange(1, 255)}"
    match slug:
        case "enrich-ticket":
            ticket = f"SOC-{rng.randrange(10000, 99999)}"
            return f"Enrich {ticket}", "Attach threat intel and asset context to the ticket.", {"ticket": ticket}
        case "deduplicate-alert":
            alert = f"ALR-{rng.randrange(100000, 999999)}"
            return f"Merge {alert}", "Merge the alert into the open incident: same host, same rule.", {"alert": alert}
        case "isolate-host":
            return f"Isolate {host}", "Isolate the host: beaconing to a known C2 domain.", {"host": host}
        case "quarantine-email":
            message = f"<{rng.getrandbits(48):012x}@mail.example>"
            return "Quarantine phishing email", "Pull the message from every mailbox.", {"message_id": message}
        case "block-ip":
            return f"Block {ip}", "Block the address at the perimeter: password spraying.", {"ip": ip}
        case "disable-account":
            return f"Disable {account}", "Disable the account: impossible travel and MFA fatigue.", {"account": account}
        case "reset-credentials":
            return f"Reset {account}", "Reset the password and revoke sessions: credential leak.", {"account": account}
        case "revoke-leaked-secret":
            secret = f"ci-token-{rng.getrandbits(24):06x}"
            return f"Revoke {secret}", "Revoke the token: pushed to a public repository.", {"secret": secret}
        case "preserve-evidence":
            return f"Preserve evidence on {host}", "Snapshot memory and disk before eradication.", {"host": host}
        case "eradicate-malware":
            return f"Eradicate malware on {host}", "Remove the implant and its persistence.", {"host": host}
        case "notify-customers":
            customers = rng.randrange(5, 5000)
            return (
                "Notify affected customers",
                "Send the breach notice.",
                {"customers": customers, "incident": incident},
            )
        case _:
            return "File regulatory report", "File the 72-hour report.", {"regulator": "ICO", "incident": incident}


# --- when things happen -----------------------------------------------------------------------


def _hour_weight(at: datetime) -> float:
    """How busy the hour starting at ``at`` is (UTC), relative to the others."""
    hour, weekday = at.hour, at.weekday()
    if 8 <= hour < 18:
        weight = 3.0
    elif 6 <= hour < 8 or 18 <= hour < 22:
        weight = 1.4
    else:
        weight = 0.6
    return weight * (0.45 if weekday >= 5 else 1.0)


def draw_arrivals(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    """``count`` sorted instants in [start, end), denser in office hours and on weekdays."""
    buckets, weights = [], []
    at = start
    while at < end:
        length = min(3600.0, (end - at).total_seconds())
        buckets.append((at, length))
        weights.append(_hour_weight(at) * length)
        at += timedelta(hours=1)
    picked = rng.choices(buckets, weights=weights, k=count)
    return sorted(at + timedelta(seconds=rng.random() * length) for at, length in picked)


def slowness(at: datetime) -> float:
    """Nights and weekends answer slower (a median of 5 minutes in office hours)."""
    night = at.hour < 7 or at.hour >= 20
    return (1.8 if night else 1.0) * (1.5 if at.weekday() >= 5 else 1.0)
