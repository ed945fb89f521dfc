"""The periodic review pages: the dashboard, the frozen reports and the review sign-off.

Governance leads and auditors (``decisions.view_reviewreport``) read them; only who
``can_sign_off`` (governance leads) gets the sign-off form, and ``review_sign_off`` checks again.
The dashboard computes the figures live (a constant number of queries, see
``decisions.review.figures``); a report page shows what the report froze and never recomputes it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from auditlog.models import LogEntry
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from decisions.models import ReviewReport
from decisions.review import oscal
from decisions.review.charts import review_sections
from decisions.review.cycle import ReviewError, can_sign_off, review_sign_off
from decisions.review.figures import DEFAULT_DAYS, PeriodError, period_from_params, review_figures
from decisions.web.forms import ReviewPeriodForm, ReviewSignOffForm
from decisions.web.responses import forbidden
from governance.gaps import gaps_by_kind, ownership_gaps

VIEW_REVIEW = "decisions.view_reviewreport"
REPORTS_PER_PAGE = 25
RECENT_REPORTS = 5
PERIOD_PARAMS = ("days", "start", "end")
EXPORT_DATASETS = [("decisions", "Decisions"), ("signoffs", "Sign-offs"), ("events", "Decision-log events")]
EXPORT_FORMATS = ("csv", "json")
AUDITED_FIELDS = {
    "signed_off_by": "Signed off by",
    "signed_off_at": "Signed off at",
    "signoff_notes": "Notes",
    "follow_up_actions": "Follow-up actions",
}


def _require_reviewer(request: HttpRequest) -> None:
    if not request.user.has_perm(VIEW_REVIEW):
        raise PermissionDenied("Only governance leads and auditors can see the periodic review.")


def _period_query(params) -> dict[str, str]:
    """The period parameters the request gave, to carry over to the export links."""
    return {name: params[name].strip() for name in PERIOD_PARAMS if (params.get(name) or "").strip()}


def _export_links(query: dict[str, str]) -> list[dict[str, Any]]:
    suffix = f"?{urlencode(query)}" if query else ""
    return [
        {
            "label": label,
            "links": [
                (fmt.upper(), reverse("decisions:review-export", kwargs={"dataset": dataset, "fmt": fmt}) + suffix)
                for fmt in EXPORT_FORMATS
            ],
        }
        for dataset, label in EXPORT_DATASETS
    ]


@login_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    _require_reviewer(request)
    query = _period_query(request.GET)
    custom = "start" in query or "end" in query
    days = query.get("days", str(DEFAULT_DAYS))
    context: dict[str, Any] = {
        "form": ReviewPeriodForm({"days": days, "start": query.get("start", ""), "end": query.get("end", "")}),
        "period_label": "Custom period" if custom else f"Last {days} days",
    }
    try:
        period = period_from_params(request.GET, tz=timezone.get_current_timezone())
    except PeriodError as exc:
        return render(request, "review/dashboard.html", {**context, "period_error": str(exc)}, status=400)
    figures = review_figures(period)
    evidence_query = f"?{urlencode(query)}" if query else ""
    context.update(
        period=period,
        figures=figures,
        computed_at=_parse_instant(figures["computed_at"]),
        sections=review_sections(figures),
        gap_groups=gaps_by_kind(ownership_gaps(at=timezone.now())),
        exports=_export_links(query),
        evidence_url=reverse("decisions:review-evidence") + evidence_query,
        recent_reports=[
            {"report": report, "title": report.title}
            for report in ReviewReport.objects.select_related("signed_off_by", "schedule")[:RECENT_REPORTS]
        ],
    )
    return render(request, "review/dashboard.html", context)


@login_required
@require_safe
def report_list(request: HttpRequest) -> HttpResponse:
    _require_reviewer(request)
    reports = ReviewReport.objects.select_related("signed_off_by", "schedule")
    page = Paginator(reports, REPORTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "review/report_list.html", {"page": page})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def report_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    _require_reviewer(request)
    report = get_object_or_404(ReviewReport.objects.select_related("signed_off_by", "schedule"), public_id=public_id)
    may_sign = can_sign_off(request.user)
    if request.method != "POST":
        form = ReviewSignOffForm() if may_sign and not report.is_signed_off else None
        return _render_report(request, report, form=form)

    if not may_sign:
        return forbidden(request, "Only a governance lead may sign a review off.")
    form = ReviewSignOffForm(request.POST)
    if not form.is_valid():
        return _render_report(request, report, form=form, status=400)
    try:
        review_sign_off(report=report, actor=request.user, **form.cleaned_data)
    except ReviewError as exc:
        form.add_error(None, str(exc))
        return _render_report(request, report, form=form, status=400)
    messages.success(request, "The review is signed off; your notes and follow-up actions are recorded.")
    return redirect("decisions:review-report", public_id=report.public_id)


@login_required
@require_safe
def report_oscal(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """``/decisions/review/reports/<id>/oscal.json``: the frozen report as OSCAL assessment results."""
    _require_reviewer(request)
    report = get_object_or_404(ReviewReport.objects.select_related("signed_off_by", "schedule"), public_id=public_id)
    response = HttpResponse(oscal.serialize(oscal.report_assessment_results(report)), content_type=oscal.MEDIA_TYPE)
    response["Content-Disposition"] = f'attachment; filename="countersign-review-{report.public_id}.oscal.json"'
    response["Cache-Control"] = "no-store"
    return response


def _history(report: ReviewReport) -> list[dict[str, Any]]:
    """The report's audit-log entries (freezing, sign-off), oldest first, with what changed."""
    entries = LogEntry.objects.get_for_object(report).select_related("actor").order_by("timestamp", "pk")
    history = []
    for entry in entries:
        changes = [
            (AUDITED_FIELDS[name], new)
            for name, (_old, new) in entry.changes_dict.items()
            if name in AUDITED_FIELDS and name != "signed_off_by" and new not in (None, "", "None")
        ]
        if entry.action == LogEntry.Action.CREATE:
            what = "Frozen"
        elif "signed_off_at" in entry.changes_dict:
            what = "Signed off"
        else:
            what = entry.get_action_display()
        history.append({"entry": entry, "what": what, "changes": changes})
    return history


def _parse_instant(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _frozen_sections(figures: Any) -> list | None:
    """The charts and tables of a frozen report, or None when its figures have a shape this
    version cannot draw (a report frozen by an older or newer version): the page then shows
    them as stored, never an error."""
    try:
        return review_sections(figures)
    except (KeyError, TypeError, AttributeError, ValueError):
        return None


def _render_report(request: HttpRequest, report: ReviewReport, *, form, status: int = 200) -> HttpResponse:
    figures = report.figures if isinstance(report.figures, dict) else {}
    verification = report.log_verification if isinstance(report.log_verification, dict) else {}
    sections = _frozen_sections(figures)
    return render(
        request,
        "review/report_detail.html",
        {
            "report": report,
            "title": report.title,
            "figures": figures,
            "computed_at": _parse_instant(figures.get("computed_at")),
            "sections": sections,
            "raw_figures": json.dumps(report.figures, indent=2, sort_keys=True) if sections is None else "",
            "gap_groups": gaps_by_kind(report.gaps if isinstance(report.gaps, list) else []),
            "verification": verification,
            "verified_at": _parse_instant(verification.get("verified_at")),
            "follow_ups": [line for line in report.follow_up_actions.splitlines() if line.strip()],
            "history": _history(report),
            "form": form,
        },
        status=status,
    )
