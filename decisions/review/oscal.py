"""The evidence pack and the frozen review reports as OSCAL assessment results (NIST OSCAL, the
format GRC tools take evidence in), built with compliance-trestle's OSCAL models.

One document holds one result for the period: ``reviewed-controls`` names every control the
document speaks to (by the evidence pack's control ids); each **observation** carries one
control's figures (``props``, named by the figure's key, in the Countersign namespace) and its
links (``relevant-evidence``, absolute URLs under ``PUBLIC_BASE_URL``); each **finding** is a
control that needs attention, with what failed and the observation behind it. Controls met or
not tested have an observation and no finding. There is no separate OSCAL assessment plan: the
document's ``import-ap`` points at a back-matter resource describing the controls and their
rules, which are in the pack itself.

A frozen report's document is stable: its uuids derive from the report's, so exporting the same
report twice gives the same document, which a GRC tool recognises as one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.urls import reverse
from trestle.oscal import OSCAL_VERSION
from trestle.oscal import common as oscal
from trestle.oscal.assessment_results import AssessmentResults, ImportAp, Result

from decisions.models import ReviewReport
from decisions.review.controls import ATTENTION
from governance.gaps import GapKind

NS = "urn:countersign:oscal"  # the namespace of Countersign's own property names
MEDIA_TYPE = "application/json"
_UUIDS = uuid.UUID("0b7b7f0e-6c1a-4e59-9a43-2f1d2b8a9c10")  # namespace of the uuids derived from a report's


def serialize(document: AssessmentResults) -> bytes:
    """The document as OSCAL JSON (``{"assessment-results": …}``)."""
    return document.oscal_serialize_json_bytes(pretty=True, wrapped=True)


def _absolute(url: str) -> str:
    return urljoin(settings.PUBLIC_BASE_URL.rstrip("/") + "/", url.lstrip("/"))


def _when(value: str | datetime) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _text(value: Any) -> str:
    """A property value: one line, no surrounding space, never empty (OSCAL's string datatype)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = " ".join(str(value).split())
    return text or "none"


def prop(name: str, value: Any, *, cls: str | None = None) -> oscal.Property:
    return oscal.Property(name=name, value=_text(value), ns=NS, class_=cls)


def _evidence(links: Iterable[dict[str, str]]) -> list[oscal.RelevantEvidence] | None:
    found = [oscal.RelevantEvidence(href=_absolute(link["url"]), description=link["label"]) for link in links]
    return found or None


class _Ids:
    """uuids for one document: random, or derived from a seed (a report's public id)."""

    def __init__(self, seed: str | None) -> None:
        self.seed = seed

    def __call__(self, name: str) -> str:
        return str(uuid.uuid5(_UUIDS, f"{self.seed}/{name}") if self.seed else uuid.uuid4())


def _document(
    *,
    ids: _Ids,
    title: str,
    modified: datetime,
    version: str,
    result: Result,
    plan_url: str,
    props: list[oscal.Property],
) -> AssessmentResults:
    plan = ids("assessment-plan")
    return AssessmentResults(
        uuid=ids("document"),
        metadata=oscal.Metadata(
            title=title,
            last_modified=modified,
            version=version,
            oscal_version=OSCAL_VERSION,
            props=props,
        ),
        import_ap=ImportAp(href=f"#{plan}"),
        results=[result],
        back_matter=oscal.BackMatter(
            resources=[
                oscal.Resource(
                    uuid=plan,
                    title="Countersign evidence pack: controls, rules and figures",
                    description=(
                        "No separate OSCAL assessment plan: the controls, the rule that judges each and the "
                        "figures it reads are part of the evidence pack at this address."
                    ),
                    rlinks=[oscal.Rlink(href=_absolute(plan_url), media_type="text/html")],
                )
            ]
        ),
    )


def _reviewed(control_ids: Iterable[str]) -> oscal.ReviewedControls:
    return oscal.ReviewedControls(
        control_selections=[
            oscal.ControlSelections(include_controls=[oscal.SelectControlById(control_id=c) for c in control_ids])
        ]
    )


def _finding(*, ids: _Ids, control_id: str, title: str, problems: list[str], observation: str) -> oscal.Finding:
    return oscal.Finding(
        uuid=ids(f"finding/{control_id}"),
        title=title,
        description="\n".join(f"- {p}" for p in problems),
        target=oscal.FindingTarget(
            type=oscal.FindingTargetTypeValidValues.objective_id,
            target_id=control_id,
            status=oscal.ObjectiveStatus(state=oscal.ObjectiveStatusStateValidValues.not_satisfied, reason="fail"),
        ),
        related_observations=[oscal.RelatedObservation(observation_uuid=observation)],
    )


def _observation(
    *,
    uuid_: str,
    title: str,
    description: str,
    props: list[oscal.Property],
    collected: datetime,
    links: Iterable[dict[str, str]] = (),
) -> oscal.Observation:
    return oscal.Observation(
        uuid=uuid_,
        title=title,
        description=description,
        props=props or None,
        methods=[oscal.Methods.TEST],  # every figure is a query over the records, not an interview
        types=[oscal.ObservationTypeValidValues.control_objective],
        relevant_evidence=_evidence(links),
        collected=collected,
    )


# --- the live evidence pack ------------------------------------------------------------------


def pack_assessment_results(pack: dict[str, Any]) -> AssessmentResults:
    """The evidence pack (``decisions.review.evidence.evidence_pack``) as OSCAL assessment results."""
    ids = _Ids(None)
    generated = _when(pack["generated_at"])
    observations, findings = [], []
    for control in pack["controls"]:
        observation = ids(f"observation/{control['id']}")
        observations.append(
            _observation(
                uuid_=observation,
                title=f"{control['framework']} {control['reference']}: {control['title']}",
                description=(
                    f"{control['summary']}\n\nRule: {control['rule']}\n\nStatus: {control['status']}."
                    + (f" {control['note']}" if control["note"] else "")
                ),
                props=[
                    prop("control-status", control["status"]),
                    prop("framework", control["framework"]),
                    prop("framework-reference", control["reference"]),
                    *(prop(f["key"], f["display"], cls="figure") for f in control["figures"]),
                ],
                collected=generated,
                links=control["links"],
            )
        )
        if control["status"] == ATTENTION:
            findings.append(
                _finding(
                    ids=ids,
                    control_id=control["id"],
                    title=f"{control['framework']} {control['reference']} needs attention",
                    problems=control["findings"],
                    observation=observation,
                )
            )
    verification = pack["log_verification"]
    observations.append(_log_observation(ids, verification, collected=generated))
    summary = pack["summary"]
    result = Result(
        uuid=ids("result"),
        title="Countersign evidence pack",
        description=(
            f"{summary['controls']} controls: {summary['met']} met, {summary['attention']} need attention, "
            f"{summary['untested']} not tested (nothing to test in the period). Every figure was computed from "
            "the records when the pack was generated; the decision log was verified at the same moment."
        ),
        start=_when(pack["period"]["start"]),
        end=_when(pack["period"]["end"]),
        reviewed_controls=_reviewed(c["id"] for c in pack["controls"]),
        observations=observations,
        findings=findings or None,
        props=[prop(name, summary[name]) for name in ("controls", "met", "attention", "untested")],
    )
    return _document(
        ids=ids,
        title=f"Countersign evidence pack, {pack['period']['start'][:10]} to {pack['period']['end'][:10]}",
        modified=generated,
        version=pack["generated_at"],
        result=result,
        plan_url=reverse("decisions:review-evidence"),
        props=[prop("source", "live evidence pack")],
    )


def _log_observation(ids: _Ids, verification: dict[str, Any], *, collected: datetime) -> oscal.Observation:
    names = ("intact", "mode", "events", "decisions", "checkpoint_size", "checkpoint_root", "unsequenced")
    return _observation(
        uuid_=ids("observation/log-verification"),
        title="Decision log verification",
        description=(
            "The decision log verified against its signed checkpoints (kept outside the database): "
            + ("intact." if verification.get("intact") else f"broken: {verification.get('first_break')}")
        ),
        props=[
            *(prop(f"log-{name.replace('_', '-')}", verification[name]) for name in names if name in verification),
            prop("log-verified-at", verification.get("verified_at")),
        ],
        collected=collected,
    )


# --- a frozen review report ------------------------------------------------------------------

# The evidence-pack controls a review report speaks to, and which of its parts bears on each.
REPORT_CONTROLS = {
    "review": ("nist-csf-gv-rm-01", "eu-ai-act-art-26-5"),
    "gaps": ("nist-csf-gv-rr-02", "iso-42001-a-3-2"),
    "log": ("nist-ai-rmf-govern", "iso-42001-a-6-2-8"),
}
TOTALS = (
    "total",
    "human",
    "auto",
    "approved",
    "overridden",
    "rejected",
    "expired",
    "approve_rate",
    "override_rate",
    "reject_rate",
    "expire_rate",
    "false_positive_rate",
    "over_blocking_rate",
    "escalations_per_decision",
)


def report_assessment_results(report: ReviewReport) -> AssessmentResults:
    """A frozen review report as OSCAL assessment results: its frozen figures, gaps, log
    verification and sign-off, never recomputed (the same document every time)."""
    ids = _Ids(str(report.public_id))
    url = reverse("decisions:review-report", args=[report.public_id])
    frozen = report.frozen_at
    review = ids("observation/review")
    gaps = ids("observation/gaps")
    totals = report.figures.get("totals", {})
    observations = [
        _observation(
            uuid_=review,
            title=f"{report.title}: figures and sign-off",
            description=_review_description(report),
            props=[
                *(prop(f"decisions-{name.replace('_', '-')}", totals.get(name)) for name in TOTALS),
                *(
                    prop(f"time-to-decision-{p}", seconds)
                    for p, seconds in (totals.get("time_to_decision") or {}).items()
                ),
                prop("signed-off", report.is_signed_off),
                prop("signed-off-by", report.signed_off_by.get_username() if report.signed_off_by else None),
                prop("signed-off-at", report.signed_off_at.isoformat() if report.signed_off_at else None),
            ],
            collected=frozen,
            links=[{"label": report.title, "url": url}],
        ),
        _observation(
            uuid_=gaps,
            title=f"{report.title}: ownership gaps when frozen",
            description="\n".join(f"- {g['subject']}: {g['detail']}" for g in report.gaps)
            or "No ownership gap when the report was frozen.",
            props=[prop("gaps", len(report.gaps)), prop("gaps-critical", sum(1 for g in report.gaps if _critical(g)))],
            collected=frozen,
        ),
        _log_observation(ids, report.log_verification or {"intact": False}, collected=frozen),
    ]
    findings = [
        _finding(ids=ids, control_id=control, title=title, problems=problems, observation=observation)
        for part, title, problems, observation in _report_problems(report, review, gaps, observations[2].uuid)
        for control in REPORT_CONTROLS[part]
    ]
    result = Result(
        uuid=ids("result"),
        title=report.title,
        description=(
            "The periodic review as it was frozen when the period ended: the figures of the decisions submitted "
            "in the period, the ownership gaps and the decision-log verification at that moment, and the sign-off."
        ),
        start=report.period_start,
        end=report.period_end,
        reviewed_controls=_reviewed(c for controls in REPORT_CONTROLS.values() for c in controls),
        observations=observations,
        findings=findings or None,
    )
    return _document(
        ids=ids,
        title=f"Countersign {report.title}",
        modified=report.signed_off_at or frozen,
        version="signed-off" if report.is_signed_off else "frozen",
        result=result,
        plan_url=reverse("decisions:review-evidence"),
        props=[prop("source", "frozen review report"), prop("review-report", str(report.public_id))],
    )


def _critical(gap: dict[str, Any]) -> bool:
    return gap.get("kind") in GapKind.CRITICAL


def _review_description(report: ReviewReport) -> str:
    lines = [f"Frozen at {report.frozen_at.isoformat()}."]
    if report.is_signed_off:
        lines.append(f"Signed off at {report.signed_off_at.isoformat() if report.signed_off_at else ''}.")
        lines.append(f"Notes: {report.signoff_notes}")
        lines += [f"Follow-up: {line}" for line in report.follow_up_actions.splitlines() if line.strip()]
    else:
        lines.append("Not signed off yet.")
    return "\n".join(lines)


def _report_problems(report: ReviewReport, review: str, gaps: str, log: str) -> list[tuple[str, str, list[str], str]]:
    """(part, title, problems, observation) for each part of the report that needs attention."""
    found = []
    if not report.is_signed_off:
        found.append(
            ("review", f"{report.title} is not signed off", ["No governance lead has signed the review off."], review)
        )
    critical = [g for g in report.gaps if _critical(g)]
    if critical:
        problems = [f"{g['subject']}: {g['detail']}" for g in critical]
        found.append(
            ("gaps", f"{len(critical)} critical ownership gap(s) when {report.title} was frozen", problems, gaps)
        )
    verification = report.log_verification or {}
    if not verification.get("intact"):
        first = verification.get("first_break") or "the log was not verified"
        found.append(("log", "The decision log did not verify when the review was frozen", [str(first)], log))
    return found
