"""The auditor's evidence pack: controls from NIST CSF 2.0, the NIST AI RMF, OWASP's agentic-AI
risks, the EU AI Act (Art. 14(4), 26(2), 26(5), 26(6)) and ISO/IEC 42001 Annex A (A.3.2, A.4,
A.6.2.6, A.6.2.8, A.9), each mapped to figures computed from the live data when the pack is asked for.

Nothing here is asserted: every figure is a query (``evidence_figures``, or the decision-log
verification run at that moment), and each control's status follows from its figures by the
rule stated in the control's ``rule`` (the controls are a table: ``decisions.review.controls``).
The pack is plain data (JSON-able): the evidence page renders it and ``?format=json`` downloads
it as is.

Figures about decisions and sign-offs cover the decisions submitted in the period; audit-log
entries and review reports are those written in the period; ownership gaps, retention settings,
stalled deadlines and events waiting for the log are those of now. The number of queries does
not depend on the number of decisions (the log verification is incremental).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from decisions.review.controls import ATTENTION, CONTROLS, MET, UNTESTED, Facts, Link, Links
from decisions.review.cycle import log_verification
from decisions.review.evidence_figures import (
    HUMAN_VERDICTS,
    audit_log_figures,
    configuration_figures,
    decision_figures,
    gap_figures,
    operation_figures,
    retention_figures,
    review_figures_of_cycle,
    signoff_figures,
)
from decisions.review.exports import DATASETS, iso
from decisions.review.figures import Period

__all__ = ["ATTENTION", "HUMAN_VERDICTS", "MET", "UNTESTED", "evidence_pack"]


def _link(label: str, name: str, *args: Any, query: dict[str, str] | None = None) -> Link | None:
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return None  # an admin page that is not registered in this deployment
    return {"label": label, "url": f"{url}?{urlencode(query)}" if query else url}


def _period_params(period: Period) -> dict[str, str]:
    tz = timezone.get_current_timezone()
    last = (period.end - datetime.resolution).astimezone(tz).date()
    return {"start": period.start.astimezone(tz).date().isoformat(), "end": last.isoformat()}


def _links(period: Period, params: dict[str, str]) -> Links:
    in_period = {"created_at__gte": period.start.isoformat(), "created_at__lt": period.end.isoformat()}
    logged_in_period = {"timestamp__gte": period.start.isoformat(), "timestamp__lt": period.end.isoformat()}

    def export(dataset: str, fmt: str = "csv") -> Link | None:
        return _link(f"Export: {dataset} ({fmt.upper()})", "decisions:review-export", dataset, fmt, query=params)

    return Links(
        dashboard=_link("Review dashboard", "decisions:review", query=params),
        reports=_link("Review reports", "decisions:review-reports"),
        audit_log=_link(
            "Audit log (changes in the period)", "admin:auditlog_logentry_changelist", query=logged_in_period
        ),
        decisions_admin=_link(
            "Decisions in the period (admin)", "admin:decisions_decisionrequest_changelist", query=in_period
        ),
        admin=_link,
        export=export,
    )


def evidence_pack(
    period: Period, *, params: dict[str, str] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Every control with its live figures, status and links, for ``period``.

    ``params`` are the query parameters that chose the period (they are repeated on the links
    to the exports and the dashboard); by default the period's first and last local days."""
    now = now or timezone.now()
    params = params if params is not None else _period_params(period)
    links = _links(period, params)
    verification = log_verification()
    facts = Facts(
        decisions=decision_figures(period),
        signoffs=signoff_figures(period),
        reviews=review_figures_of_cycle(period, now=now),
        configuration=configuration_figures(),
        audit=audit_log_figures(period),
        gaps=gap_figures(now=now),
        verification=verification,
        operation=operation_figures(now=now, last_full_verified_at=verification["last_full_verified_at"]),
        retention=retention_figures(now=now),
        links=links,
    )
    controls = [control.judge(facts) for control in CONTROLS]
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
        "log_verification": facts.verification,
        "figures": {
            "decisions": facts.decisions,
            "signoffs": facts.signoffs,
            "reviews": facts.reviews,
            "configuration": facts.configuration,
            "audit_log": facts.audit,
            "gaps": facts.gaps,
            "operation": facts.operation,
            "retention": facts.retention,
        },
        "exports": [
            link for name in DATASETS for fmt in ("csv", "json") if (link := links.export(name, fmt)) is not None
        ],
    }
