"""The auditor's evidence pack: who may read it, how a period and bad input are answered, and
that every control carries figures equal to counts computed here, independently, from the
rows; that each status follows from its figures; that a tampered decision log shows; and that
the pack runs a constant number of queries whatever the number of decisions."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from auditlog.context import disable_auditlog
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from decisions import integrations
from decisions.ledger.verification import verify_ledger
from decisions.lifecycle import outcomes, signing
from decisions.models import (
    DecisionRequest,
    DecisionStatus,
    Escalation,
    OutcomeKind,
    ReviewReport,
    ReviewSchedule,
    SignOff,
    Verdict,
)
from decisions.review import evidence
from decisions.review.cycle import freeze_report, last_complete_period, review_sign_off
from decisions.review.figures import Period
from governance import rbac
from governance.audit import acting_as
from governance.gaps import GapKind, ownership_gaps
from governance.models import ApprovalPolicy, Certification
from tests.decisions.factories import make_integration, submit
from tests.decisions.scenarios import certification_valid, tamper
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    CertificationFactory,
    UserFactory,
    make_staffed_action_type,
    make_user_in_group,
)
from tests.helpers import force_update

pytestmark = pytest.mark.django_db

PAGE = "/decisions/review/evidence/"
CONTROLS = {
    "nist-csf-gv-rm-01",
    "nist-csf-gv-rr-02",
    "nist-ai-rmf-govern",
    "nist-ai-rmf-manage",
    "owasp-excessive-agency",
    "owasp-human-agent-trust-exploitation",
    "eu-ai-act-art-14-4",
    "eu-ai-act-art-26-2",
    "eu-ai-act-art-26-5",
    "eu-ai-act-art-26-6",
    "iso-42001-a-3-2",
    "iso-42001-a-4-6",
    "iso-42001-a-6-2-6",
    "iso-42001-a-6-2-8",
    "iso-42001-a-9",
}
APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Beaconing confirmed in EDR."}
OVERRIDE = {
    "verdict": "override",
    "reason_code": "scope_too_broad",
    "rationale": "Only the laptop, not the subnet.",
    "override_action": {"target": {"host": "fin-042"}},
}
REJECT = {"verdict": "reject", "reason_code": "false_positive", "rationale": "A known vulnerability scanner."}


def by_control(pack: dict) -> dict[str, dict]:
    return {c["id"]: c for c in pack["controls"]}


def figures(pack: dict, control: str) -> dict:
    return {f["key"]: f["value"] for f in by_control(pack)[control]["figures"]}


def pack_now() -> dict:
    return evidence.evidence_pack(Period.last_days(30))


def forged_signoff(decision: DecisionRequest, signer, *, certification_id: int, **fields) -> SignOff:
    """A sign-off written behind the services' back (what the checks exist to catch)."""
    values = {
        "signed_as_id": decision.owner_role_id,
        "step": 0,
        "payload_version": decision.payload_version,
        **APPROVE,
        **fields,
    }
    return SignOff.objects.create(
        decision=decision, signer=signer, certification_id_at_signing=certification_id, **values
    )


@pytest.fixture
def troubled():
    """A period with good decisions and one of each problem the pack looks for."""
    action_type, role, (alice, bob, carol) = make_staffed_action_type(signers=3)
    ApprovalPolicyFactory(action_types=[action_type])
    auto_type = ActionTypeFactory(automation=True)
    ApprovalPolicyFactory(action_types=[auto_type], allow_auto_approval=True)
    unowned = ActionTypeFactory()
    ApprovalPolicyFactory(action_types=[unowned])
    integration = make_integration(action_type, auto_type, unowned)
    account = integration.service_account

    approved = submit(action_type, integration=integration)
    signing.decision_sign_off(decision=approved, actor=alice, **APPROVE)
    outcomes.decision_report_outcome(decision=approved, actor=account, kind=OutcomeKind.FALSE_POSITIVE, reverted=True)
    overridden = submit(action_type, integration=integration)
    signing.decision_sign_off(decision=overridden, actor=bob, **OVERRIDE)
    rejected = submit(action_type, integration=integration)
    signing.decision_sign_off(decision=rejected, actor=alice, **REJECT)
    submit(auto_type, integration=integration)
    submit(unowned, integration=integration)  # no owning role: straight to the chain

    # Behind the services' back: a production change auto-approved, a signature by the person
    # who submitted, one by the integration's account, one on a revoked certification.
    forced = submit(action_type, integration=integration)
    DecisionRequest.objects.filter(pk=forced.pk).update(status=DecisionStatus.AUTO_APPROVED, decided_at=timezone.now())
    carol_cert = Certification.objects.get(user=carol)
    own = submit(action_type, integration=integration, actor=carol)
    forged_signoff(own, carol, certification_id=carol_cert.pk)
    by_machine = submit(action_type, integration=integration)
    forged_signoff(by_machine, account, certification_id=carol_cert.pk, **REJECT)
    late = submit(action_type, integration=integration)
    signed = signing.decision_sign_off(decision=late, actor=bob, **APPROVE)
    Certification.objects.filter(user=bob).update(revoked_at=signed.created_at - timedelta(microseconds=1))
    return {"role": role, "people": (alice, bob, carol), "integration": integration}


# --- who may read it ----------------------------------------------------------------------------


@pytest.mark.parametrize("group", [rbac.GOVERNANCE_LEAD, rbac.AUDITOR])
def test_governance_leads_and_auditors_may_read_the_pack(client, group):
    client.force_login(make_user_in_group(group))

    response = client.get(PAGE)

    assert response.status_code == 200
    assert "Evidence pack" in response.content.decode()


def test_analyst_may_not_read_the_pack(client):
    client.force_login(make_user_in_group(rbac.ANALYST))

    assert client.get(PAGE).status_code == 403


def test_integration_service_account_may_not_read_the_pack(client):
    client.force_login(make_integration().service_account)

    assert client.get(PAGE + "?format=json").status_code == 403


@pytest.mark.parametrize("fmt", ["", "?format=json"])
def test_a_reader_of_decisions_without_the_review_permission_may_not_read_the_pack(client, fmt):
    """The pack lists the review reports, who signed them off and the ownership gaps (people's
    names): the review permission guards those everywhere else."""
    reader = UserFactory(is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_decisionrequest"))
    client.force_login(reader)

    assert client.get(PAGE + fmt).status_code == 403


def test_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_bad_period_is_refused_with_the_reason_on_the_page(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get(PAGE + "?start=2026-03-01&end=2026-02-01")

    assert response.status_code == 400
    assert "The end date must not be before the start date." in response.content.decode()


def test_bad_period_is_refused_with_the_reason_in_json(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get(PAGE + "?days=0&format=json")

    assert response.status_code == 400
    assert response.json() == {"error": "days must be between 1 and 3660."}


@pytest.mark.parametrize("fmt", ["", "&format=json"])
def test_dates_beyond_what_a_period_can_hold_are_a_400_not_a_500(client, settings, fmt):
    settings.TIME_ZONE = "America/Adak"
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get(PAGE + "?start=0001-01-01&end=9999-12-31" + fmt)

    assert response.status_code == 400
    assert "Dates must fall between 1970-01-01 and 9998-12-31." in response.content.decode()


def test_json_pack_is_a_download_named_for_its_period(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get(PAGE + "?start=2026-01-01&end=2026-03-31&format=json")

    assert response.status_code == 200
    assert response["Content-Disposition"] == ('attachment; filename="countersign-evidence-2026-01-01_2026-03-31.json"')
    pack = json.loads(response.content)
    assert pack["period"]["start"].startswith("2026-01-01T00:00:00")
    assert {c["id"] for c in pack["controls"]} == CONTROLS


# --- what it says ---------------------------------------------------------------------------------


def test_every_control_has_a_status_figures_and_links():
    pack = pack_now()

    assert {c["id"] for c in pack["controls"]} == CONTROLS
    for control in pack["controls"]:
        assert control["status"] in {evidence.MET, evidence.ATTENTION, evidence.UNTESTED}
        assert all(control[part] for part in ("summary", "rule", "figures", "links")), control["id"]


def test_every_link_in_the_pack_opens_for_an_auditor(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))
    pack = pack_now()
    urls = {link["url"] for c in pack["controls"] for link in c["links"]} | {link["url"] for link in pack["exports"]}

    answers = {url: client.get(url).status_code for url in sorted(urls)}

    assert set(answers.values()) == {200}, answers
    assert any(url.startswith("/admin/auditlog/logentry/") for url in answers)


def test_decision_figures_match_the_rows(troubled):
    pack = pack_now()
    rows = list(DecisionRequest.objects.select_related("action_type"))
    production = [d for d in rows if d.action_type.changes_production_state]
    closed = [d for d in production if d.status not in (DecisionStatus.PENDING, DecisionStatus.CANCELLED)]
    with_human = [
        d
        for d in production
        if d.status in evidence.HUMAN_VERDICTS and d.signoffs.filter(voided_at__isnull=True).exists()
    ]
    auto = [d for d in rows if d.status == DecisionStatus.AUTO_APPROVED]

    agency = figures(pack, "owasp-excessive-agency")
    assert agency["production_closed"] == len(closed) == 6
    assert agency["production_human_verdict"] == len(with_human) == 4
    assert agency["production_human_share"] == round(4 / 6, 4)
    assert agency["production_auto_approved"] == 1
    assert agency["auto_approved"] == len(auto) == 2
    assert agency["auto_violations"] == 1
    assert (
        figures(pack, "nist-csf-gv-rr-02")["decisions_without_owner"]
        == 1
        == sum(1 for d in rows if not d.owner_role_id and not d.action_type.system_owned)
    )


def closed_without_human(action_type, status: str, *, escalated: bool) -> DecisionRequest:
    """A decision closed by the system (as intake or the end of a chain would close it)."""
    decision = submit(action_type, integration=make_integration(action_type))
    force_update(DecisionRequest.objects.filter(pk=decision.pk), status=status, decided_at=timezone.now())
    if escalated:
        Escalation.objects.create(decision=decision, from_step=0, reason=Escalation.Reason.TIMEOUT, at=timezone.now())
    return decision


def test_chain_end_auto_approval_is_allowed_only_for_harmless_action_types():
    harmless = ActionTypeFactory(changes_production_state=False)
    ApprovalPolicyFactory(action_types=[harmless])
    closed_without_human(harmless, DecisionStatus.AUTO_APPROVED, escalated=True)  # allowed
    closed_without_human(harmless, DecisionStatus.AUTO_APPROVED, escalated=False)  # not system-owned
    closed_without_human(harmless, DecisionStatus.REJECTED, escalated=True)

    pack = pack_now()

    agency, manage = figures(pack, "owasp-excessive-agency"), figures(pack, "nist-ai-rmf-manage")
    assert (agency["auto_approved"], agency["auto_at_intake"], agency["auto_violations"]) == (2, 1, 1)
    assert (manage["auto_at_chain_end"], manage["rejected_by_chain_end"]) == (1, 1)


def test_signoff_figures_match_the_rows(troubled):
    pack = pack_now()
    signoffs = list(SignOff.objects.select_related("decision"))
    integration_accounts = {troubled["integration"].service_account_id}

    trust = figures(pack, "owasp-human-agent-trust-exploitation")
    # the integration's account submitted the decision it signed: by the submitter too
    assert trust["signoffs_by_submitter"] == sum(1 for s in signoffs if s.signer_id == s.decision.submitted_by_id) == 2
    assert trust["signoffs_by_integration"] == sum(1 for s in signoffs if s.signer_id in integration_accounts) == 1
    assert trust["signoffs_certification_not_valid"] == sum(1 for s in signoffs if not certification_valid(s)) == 2
    assert trust["pushed_back"] == sum(1 for s in signoffs if s.verdict != Verdict.APPROVE) == 3
    assert trust["quick_approvals"] == sum(
        1
        for s in signoffs
        if s.verdict == Verdict.APPROVE and s.created_at - s.decision.created_at < timedelta(minutes=1)
    )
    rr = figures(pack, "nist-csf-gv-rr-02")
    assert (rr["signoffs"], rr["signoffs_by_submitter"], rr["signoffs_certification_not_valid"]) == (
        len(signoffs),
        2,
        2,
    )


def test_manage_figures_match_the_rows(troubled):
    pack = pack_now()
    live = SignOff.objects.filter(voided_at__isnull=True)

    manage = figures(pack, "nist-ai-rmf-manage")
    assert manage["overrides"] == manage["overrides_with_rationale"] == live.filter(verdict=Verdict.OVERRIDE).count()
    assert manage["rejections"] == manage["rejections_with_rationale"] == live.filter(verdict=Verdict.REJECT).count()
    assert (manage["outcomes"], manage["false_positives"], manage["reverted"]) == (1, 1, 1)
    assert manage["expired"] == DecisionRequest.objects.filter(status=DecisionStatus.EXPIRED).count()
    assert manage["chains_without_human"] == 0


def test_gap_and_log_figures_match_their_sources(troubled):
    pack = pack_now()
    gaps = ownership_gaps(at=timezone.now())

    assert figures(pack, "nist-csf-gv-rr-02")["ownership_gaps"] == len(gaps)
    assert figures(pack, "nist-csf-gv-rr-02")["critical_gaps"] == sum(1 for g in gaps if g.critical) > 0
    assert pack["figures"]["gaps"]["by_kind"][GapKind.UNOWNED_ACTION_TYPE] == 1
    # The troubled period forged rows behind the services' back: the log says otherwise.
    assert figures(pack, "nist-ai-rmf-govern")["log_intact"] is verify_ledger(record=False).intact is False


def test_audit_log_figures_match_the_entries(troubled):
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)
    with acting_as(lead):
        ApprovalPolicyFactory(name="Audited change")
    pack = pack_now()
    entries = list(LogEntry.objects.filter(timestamp__gte=timezone.now() - timedelta(days=30)))

    govern = figures(pack, "nist-ai-rmf-govern")
    assert govern["audit_entries"] == len(entries)
    assert govern["audit_without_actor"] == sum(1 for e in entries if e.actor_id is None) > 0
    assert pack["figures"]["audit_log"]["with_actor"] == sum(1 for e in entries if e.actor_id == lead.pk) > 0


def test_problems_put_their_controls_in_attention(troubled):
    controls = by_control(pack_now())

    assert controls["nist-csf-gv-rr-02"]["status"] == evidence.ATTENTION
    assert controls["owasp-excessive-agency"]["status"] == evidence.ATTENTION
    assert controls["owasp-human-agent-trust-exploitation"]["status"] == evidence.ATTENTION
    assert "2 sign-off(s) by the submitter." in controls["owasp-human-agent-trust-exploitation"]["findings"]
    assert "1 production change(s) approved without a human." in controls["owasp-excessive-agency"]["findings"]


def frozen_by_the_system() -> ReviewReport:
    """The last week of the migration's weekly schedule, frozen as beat freezes it: no person."""
    schedule = ReviewSchedule.objects.get()
    return freeze_report(schedule=schedule, period=last_complete_period(schedule, now=timezone.now()))


def _lead_made_by_an_operator():
    """Users are audited too: the lead is provisioned by a named operator (whose own account
    predates the log, as the first superuser's does)."""
    with disable_auditlog():
        operator = UserFactory(is_staff=True, is_superuser=True)
    with acting_as(operator):
        return make_user_in_group(rbac.GOVERNANCE_LEAD)


def test_clean_history_meets_every_control():
    lead = _lead_made_by_an_operator()
    with acting_as(lead):
        action_type, _role, (alice,) = make_staffed_action_type()
        ApprovalPolicyFactory(action_types=[action_type], required_approvals=1, max_blast_radius=2)
        ReviewSchedule.objects.update(enabled=True)  # the migration's weekly schedule
        integration = integrations.integration_create(
            actor=lead, name="SOAR", team_contact="soc@example.test", allowed_action_types=[action_type]
        )
    decision = submit(action_type, integration=integration)
    signing.decision_sign_off(decision=decision, actor=alice, **REJECT)
    review_sign_off(report=frozen_by_the_system(), actor=lead, notes="Quiet week.")
    verify_ledger(full=True)  # what beat runs daily

    pack = pack_now()

    assert {c["id"]: c["findings"] for c in pack["controls"]} == {c: [] for c in CONTROLS}
    assert pack["summary"] == {"controls": 15, "met": 15, "attention": 0, "untested": 0}


def test_a_control_with_nothing_to_check_in_the_period_is_untested_not_met():
    lead = _lead_made_by_an_operator()
    with acting_as(lead):
        action_type, _role, _people = make_staffed_action_type()
        ApprovalPolicyFactory(action_types=[action_type], required_approvals=1, max_blast_radius=2)
        ReviewSchedule.objects.update(enabled=True)

    pack = pack_now()  # configured, but no decision, sign-off or review in the period

    controls = by_control(pack)
    assert {key: c["status"] for key, c in controls.items()} == {
        "nist-csf-gv-rm-01": evidence.UNTESTED,
        "nist-csf-gv-rr-02": evidence.UNTESTED,
        "nist-ai-rmf-govern": evidence.MET,  # the configuration changes were logged with their author
        "nist-ai-rmf-manage": evidence.UNTESTED,
        "owasp-excessive-agency": evidence.UNTESTED,
        "owasp-human-agent-trust-exploitation": evidence.UNTESTED,
        "eu-ai-act-art-14-4": evidence.UNTESTED,
        "eu-ai-act-art-26-2": evidence.UNTESTED,
        "eu-ai-act-art-26-5": evidence.UNTESTED,
        # configured now: the retention of the action type, its owner and its on-call people
        "eu-ai-act-art-26-6": evidence.MET,
        "iso-42001-a-3-2": evidence.MET,
        "iso-42001-a-4-6": evidence.MET,
        "iso-42001-a-6-2-6": evidence.UNTESTED,
        "iso-42001-a-6-2-8": evidence.UNTESTED,  # the log is empty
        "iso-42001-a-9": evidence.UNTESTED,
    }
    assert controls["owasp-human-agent-trust-exploitation"]["note"].startswith("Nothing to test in this period")
    assert controls["nist-ai-rmf-govern"]["note"] == ""
    assert pack["summary"] == {"controls": 15, "met": 4, "attention": 0, "untested": 11}


def test_a_problem_outweighs_an_empty_period():
    ApprovalPolicy.objects.update(enabled=False)

    controls = by_control(pack_now())

    assert controls["nist-csf-gv-rm-01"]["status"] == evidence.ATTENTION


def test_the_page_says_which_controls_had_nothing_to_test(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    page = client.get(PAGE).content.decode()

    assert "Not tested" in page
    assert "Nothing to test in this period: no sign-offs were given." in page
    assert re.search(r'id="controls-summary">\d+ of 15 met, \d+ need[s]? attention, \d+ not tested', page)


def test_reviews_frozen_by_the_schedule_are_not_changes_without_a_person():
    frozen_by_the_system()

    pack = pack_now()

    govern = figures(pack, "nist-ai-rmf-govern")
    assert (govern["audit_without_actor"], govern["audit_reviews_frozen"]) == (0, 1)
    assert by_control(pack)["nist-ai-rmf-govern"]["findings"] == []


def test_reviews_frozen_and_signed_off_in_the_period_are_counted():
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)
    now = timezone.now()
    signed = freeze_report(schedule=None, period=Period.last_days(7, now=now - timedelta(days=7)), now=now)
    review_sign_off(report=signed, actor=lead, notes="Looked at the expiries.")
    freeze_report(schedule=None, period=Period.last_days(7, now=now - timedelta(days=14)), now=now - timedelta(days=8))

    pack = pack_now()

    rm = figures(pack, "nist-csf-gv-rm-01")
    assert (rm["reviews_frozen"], rm["reviews_signed_off"], rm["reviews_overdue"]) == (2, 1, 1)
    assert by_control(pack)["nist-csf-gv-rm-01"]["status"] == evidence.ATTENTION
    assert pack["figures"]["reviews"]["reports"][0]["signed_off_by"] == lead.username


def test_reviews_of_the_period_are_shown_in_the_display_time_zone(client, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    schedule = ReviewSchedule.objects.create(name="Berlin weekly", time_zone="Europe/Berlin")
    now = timezone.now()
    report = freeze_report(schedule=schedule, period=last_complete_period(schedule, now=now), now=now)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    page = client.get(PAGE).content.decode()

    reviews = page[page.index('id="h-reviews"') : page.index('id="h-audit"')]
    start, frozen = timezone.localtime(report.period_start), timezone.localtime(report.frozen_at)
    assert f">{start.day} {start:%b %Y}, 00:00 CET</time>" in reviews  # local midnight, not 23:00 UTC
    assert f">{frozen.day} {frozen:%b %Y, %H:%M} CET</time>" in reviews
    assert f"<td>{report.frozen_at.isoformat()}</td>" not in reviews  # not the JSON's UTC string


def test_gap_fix_links_on_the_page_are_for_staff_only(client):
    ActionTypeFactory(name="Disable account")  # no owner: a gap whose fix is in the admin
    client.force_login(make_user_in_group(rbac.AUDITOR, is_staff=False))
    page = client.get(PAGE).content.decode()
    client.force_login(make_user_in_group(rbac.AUDITOR))
    staff_page = client.get(PAGE).content.decode()

    assert "Disable account" in page
    assert "/admin/governance/ownershipassignment/add/" not in page
    assert "/admin/governance/ownershipassignment/add/" in staff_page


def test_configuration_figures_count_what_is_enabled():
    ApprovalPolicyFactory()
    ApprovalPolicyFactory(enabled=False)
    ReviewSchedule.objects.update(enabled=False)

    rm = figures(pack_now(), "nist-csf-gv-rm-01")

    assert rm["policies_enabled"] == ApprovalPolicy.objects.filter(enabled=True).count() == 1
    assert rm["review_schedules_enabled"] == 0


def test_tampered_log_shows_in_the_pack(client, troubled):
    victim = DecisionRequest.objects.order_by("id").first()
    tamper(decision=victim, seq=2).update(data={"edited": True})
    client.force_login(make_user_in_group(rbac.AUDITOR))

    pack = client.get(PAGE + "?format=json").json()
    page = client.get(PAGE).content.decode()

    assert pack["log_verification"]["intact"] is False
    assert str(victim.public_id) in pack["log_verification"]["first_break"]
    govern = by_control(pack)["nist-ai-rmf-govern"]
    assert govern["status"] == evidence.ATTENTION
    assert govern["findings"][0].startswith("The decision log is broken: decision ")
    assert "Broken" in page
    assert str(victim.public_id) in page


def test_page_shows_each_control_with_its_status_and_figures(client, troubled):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    page = client.get(PAGE).content.decode()

    for control in CONTROLS:
        assert f'id="{control}"' in page
    assert re.search(r'data-figure="signoffs_by_submitter"><th scope="row">[^<]+</th><td class="num">2</td>', page)
    assert "Needs attention" in page
    assert "leading apostrophe" in page


def test_period_limits_the_decisions_counted(troubled):
    old = DecisionRequest.objects.order_by("id").first()
    force_update(DecisionRequest.objects.filter(pk=old.pk), created_at=timezone.now() - timedelta(days=40))

    recent = figures(evidence.evidence_pack(Period.last_days(30)), "nist-csf-gv-rm-01")["decisions"]
    longer = figures(evidence.evidence_pack(Period.last_days(60)), "nist-csf-gv-rm-01")["decisions"]

    assert (recent, longer) == (DecisionRequest.objects.count() - 1, DecisionRequest.objects.count())


# --- queries ------------------------------------------------------------------------------------


def decisions_signed(count: int) -> None:
    action_type, _role, (alice,) = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    integration = make_integration(action_type)
    for _ in range(count):
        signing.decision_sign_off(decision=submit(action_type, integration=integration), actor=alice, **APPROVE)


def queries_for_pack() -> int:
    pack_now()  # warms the governance snapshot
    with CaptureQueriesContext(connection) as queries:
        pack_now()
    return len(queries)


def test_pack_runs_the_same_number_of_queries_for_one_or_many_decisions():
    """43: seventeen for the figures (decisions, sign-offs, reviews: figures and list, enabled
    policies, schedules and integrations, audit log, gaps: snapshot token and expiring
    certifications, stalled deadlines, events waiting for the log, retention settings, the
    oldest decision, retention runs, archived decisions, legal holds), 25 for the
    incremental log verification (this transaction's id; the stored checkpoints, the log's head,
    the last proven run; the decisions with events not yet in a checkpoint and their chains:
    three; five counts (the archived events too); the retention runs since the last proven run
    and the last proven run again; the rows written since the last proven run: two, and the counts of rows
    against the log; the touched decisions replayed: four; two totals; the run recorded; batches
    of 500 decisions: beyond 500 the replay adds four queries per 500), and the last full
    verification's time."""
    decisions_signed(1)
    one = queries_for_pack()
    decisions_signed(30)
    UserFactory.create_batch(3)
    CertificationFactory.create_batch(3)

    assert queries_for_pack() == one == 43


def test_page_runs_the_same_number_of_queries_for_one_or_many_decisions(client, django_assert_num_queries):
    client.force_login(make_user_in_group(rbac.AUDITOR))
    decisions_signed(1)
    client.get(PAGE)
    with CaptureQueriesContext(connection) as one:
        client.get(PAGE)
    decisions_signed(30)

    with django_assert_num_queries(len(one)):
        client.get(PAGE)
