"""Streamed exports and the auditor's evidence pack (governance leads and auditors).

Both take the review period from the query string (``start``/``end`` local dates, or ``days``);
a period that does not parse is a 400 with the reason. The export formats and the CSV
formula-injection guard are described in ``decisions.review.exports``; the controls and the rules
behind their status in ``decisions.review.evidence``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TypeVar

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from decisions.review import evidence, exports, oscal
from decisions.review.figures import PRESET_DAYS, PeriodError, period_from_params
from decisions.selectors import VIEW_ALL
from decisions.web.responses import forbidden

_Response = TypeVar("_Response", bound=HttpResponseBase)

PERIOD_PARAMS = ("start", "end", "days")
# The pack also lists the review reports, their sign-offs and the ownership gaps (people's
# names): what the review permission guards on the dashboard and in the API.
VIEW_REVIEW = "decisions.view_reviewreport"
REVIEW_INSTANTS = ("period_start", "period_end", "frozen_at", "signed_off_at")


def _forbidden(request: HttpRequest) -> HttpResponse:
    message = "Only governance leads and auditors can export decisions and read the evidence pack."
    return forbidden(request, message)


def _attachment(response: _Response, filename: str) -> _Response:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_safe
def export(request: HttpRequest, dataset: str, fmt: str) -> HttpResponseBase:
    """``/decisions/review/export/<dataset>.<fmt>``: decisions, signoffs or events as CSV or JSON."""
    if not request.user.has_perm(VIEW_ALL):
        return _forbidden(request)
    if dataset not in exports.DATASETS or fmt not in exports.FORMATS:
        raise Http404("No such export.")
    tz = timezone.get_current_timezone()
    try:
        period = period_from_params(request.GET, tz=tz)
    except PeriodError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(exports.stream(dataset, fmt, period), content_type=exports.FORMATS[fmt])
    return _attachment(response, exports.filename(dataset, period, fmt, tz=tz))


@login_required
@require_safe
def evidence_pack(request: HttpRequest) -> HttpResponse:
    """``/decisions/review/evidence/``: the controls with their live evidence; ``?format=json``
    downloads the same data, ``?format=oscal`` the same as OSCAL assessment results."""
    if not request.user.has_perms([VIEW_ALL, VIEW_REVIEW]):
        return _forbidden(request)
    as_json = request.GET.get("format") in ("json", "oscal")
    tz = timezone.get_current_timezone()
    params = {name: request.GET[name] for name in PERIOD_PARAMS if request.GET.get(name)}
    try:
        period = period_from_params(request.GET, tz=tz)
    except PeriodError as exc:
        if as_json:
            return HttpResponse(
                json.dumps({"error": str(exc)}), status=400, content_type="application/json; charset=utf-8"
            )
        return render(
            request, "review/evidence.html", {"error": str(exc), "params": params, "presets": PRESET_DAYS}, status=400
        )
    pack = evidence.evidence_pack(period, params=params)
    if request.GET.get("format") == "oscal":
        response = HttpResponse(oscal.serialize(oscal.pack_assessment_results(pack)), content_type=oscal.MEDIA_TYPE)
        return _attachment(response, exports.filename("evidence", period, "oscal.json", tz=tz))
    if as_json:
        response = HttpResponse(json.dumps(pack, indent=2, ensure_ascii=False), content_type="application/json")
        return _attachment(response, exports.filename("evidence", period, "json", tz=tz))
    return render(
        request,
        "review/evidence.html",
        {
            "pack": pack,
            "period": period,
            "params": params,
            "presets": PRESET_DAYS,
            "generated_at": _instant(pack.get("generated_at")),
            "verified_at": _instant(pack.get("log_verification", {}).get("verified_at")),
            # The pack holds ISO strings in UTC (for the JSON); the page shows them in the display time zone.
            "reviews": [
                {**r, **{name: _instant(r[name]) for name in REVIEW_INSTANTS}}
                for r in pack["figures"]["reviews"]["reports"]
            ],
        },
    )


def _instant(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
