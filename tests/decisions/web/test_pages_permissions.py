"""The analyst pages through Django's test client: who sees a decision, who gets the sign-off
form, and what a POST from each kind of person answers.

The matrix (GET of the decision page / POST of a verdict):

| who                                        | GET                  | POST                         |
|--------------------------------------------|----------------------|------------------------------|
| eligible (on call, certified, granted)     | 200 with the form    | 302 to the page, recorded    |
| certified but not on call (no grant)       | 404                  | 404 (cannot see it at all)   |
| certification expired after routing        | 200, no form, reason | 403 with the reason          |
| the submitter (also on call and certified) | 200, no form, reason | 403 segregation of duties    |
| auditor / governance lead (view all)       | 200, no form         | 403                          |
| anonymous                                  | 302 to the login     | 302 to the login             |
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.models import DecisionStatus, SignOff
from governance import rbac
from governance.models import Certification
from tests.governance.factories import CertificationFactory, UserFactory, make_user_in_group

pytestmark = pytest.mark.django_db

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Beaconing confirmed in EDR."}
REJECT = {"verdict": "reject", "reason_code": "false_positive", "rationale": "A known vulnerability scanner."}
FORM = 'id="signoff-form"'


def page_of(decision) -> str:
    return f"/decisions/{decision.public_id}/"


def logged_in(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def expire_certification(user) -> None:
    certification = Certification.objects.get(user=user)
    certification.valid_until = timezone.now() - timedelta(seconds=1)
    certification.save()


# --- Eligible -------------------------------------------------------------------------------


def test_eligible_signer_sees_the_sign_off_form(client, signer, decision):
    response = logged_in(client, signer).get(page_of(decision))

    assert response.status_code == 200
    assert FORM in text(response)


def test_eligible_signers_approval_is_recorded_and_redirects_with_a_message(client, signer, decision):
    response = logged_in(client, signer).post(page_of(decision), APPROVE, follow=True)

    assert response.redirect_chain == [(page_of(decision), 302)]
    assert "Your approval is recorded. The decision is now approved." in text(response)
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED
    assert SignOff.objects.get().rationale == APPROVE["rationale"]


def test_eligible_signers_rejection_rejects(client, signer, decision):
    logged_in(client, signer).post(page_of(decision), REJECT)

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.REJECTED


def test_override_records_the_changed_action(client, signer, decision):
    changed = '{"target": {"host": "laptop-042", "scope": "block outbound only"}}'

    logged_in(client, signer).post(
        page_of(decision),
        {"verdict": "override", "reason_code": "scope_too_broad", "rationale": "Narrower.", "override_action": changed},
    )

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.OVERRIDDEN
    assert decision.final_action["target"] == {"host": "laptop-042", "scope": "block outbound only"}


# --- Ineligible -----------------------------------------------------------------------------


def test_certified_person_not_on_call_cannot_see_the_decision(client, staffed, decision):
    off_call = CertificationFactory(role=staffed.role).user

    assert logged_in(client, off_call).get(page_of(decision)).status_code == 404


def test_certified_person_not_on_call_posting_a_verdict_gets_404(client, staffed, decision):
    off_call = CertificationFactory(role=staffed.role).user

    response = logged_in(client, off_call).post(page_of(decision), APPROVE)

    assert response.status_code == 404
    assert not SignOff.objects.exists()


def test_expired_certification_shows_why_instead_of_the_form(client, signer, decision):
    expire_certification(signer)

    response = logged_in(client, signer).get(page_of(decision))

    assert response.status_code == 200
    assert FORM not in text(response)
    assert "Your certification for this role has expired or was revoked" in text(response)


def test_expired_certification_post_is_403_with_the_reason(client, signer, decision):
    expire_certification(signer)

    response = logged_in(client, signer).post(page_of(decision), APPROVE)

    assert response.status_code == 403
    assert "Your certification for this role has expired or was revoked" in text(response)
    assert not SignOff.objects.exists()


def test_submitter_sees_no_form(client, signer, caller, staffed, make_decision):
    own = make_decision(caller.integration, staffed.action_type, actor=signer)

    response = logged_in(client, signer).get(page_of(own))

    assert response.status_code == 200
    assert FORM not in text(response)
    assert "You submitted this decision, so you cannot sign it." in text(response)


def test_submitter_post_is_403(client, signer, caller, staffed, make_decision):
    own = make_decision(caller.integration, staffed.action_type, actor=signer)

    response = logged_in(client, signer).post(page_of(own), APPROVE)

    assert response.status_code == 403
    assert not SignOff.objects.exists()


@pytest.mark.parametrize("group", [rbac.AUDITOR, rbac.GOVERNANCE_LEAD])
def test_reviewer_reads_the_decision_without_the_form(client, decision, group):
    response = logged_in(client, make_user_in_group(group)).get(page_of(decision))

    assert response.status_code == 200
    assert FORM not in text(response)
    assert decision.title in text(response)


@pytest.mark.parametrize("group", [rbac.AUDITOR, rbac.GOVERNANCE_LEAD])
def test_reviewer_post_is_403(client, decision, group):
    response = logged_in(client, make_user_in_group(group)).post(page_of(decision), APPROVE)

    assert response.status_code == 403
    assert not SignOff.objects.exists()


def test_unrelated_analyst_gets_404(client, decision):
    analyst = make_user_in_group(rbac.ANALYST, is_staff=False)

    assert logged_in(client, analyst).get(page_of(decision)).status_code == 404


def test_integration_service_account_cannot_open_the_page(client, caller, decision):
    assert logged_in(client, caller.integration.service_account).get(page_of(decision)).status_code == 404


def test_anonymous_get_is_sent_to_the_login_page(client, decision):
    response = client.get(page_of(decision))

    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={page_of(decision)}"


def test_anonymous_post_is_sent_to_the_login_page_and_records_nothing(client, decision):
    response = client.post(page_of(decision), APPROVE)

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert not SignOff.objects.exists()


def test_unknown_decision_is_404(client, signer):
    response = logged_in(client, signer).get("/decisions/00000000-0000-4000-8000-000000000000/")

    assert response.status_code == 404


# --- The decision changes while the page is open ------------------------------------------


def test_verdict_on_a_decision_another_signer_closed_is_a_message_not_an_error(
    client, make_staffed, make_caller, make_decision
):
    staffed = make_staffed(people=2)
    alice, bob = staffed.signers
    decision = make_decision(make_caller(action_types=[staffed.action_type]).integration, staffed.action_type)
    logged_in(client, bob).get(page_of(decision))  # Bob opens the page...
    client.force_login(alice)
    client.post(page_of(decision), REJECT)  # ...Alice rejects meanwhile...
    client.force_login(bob)

    response = client.post(page_of(decision), APPROVE, follow=True)  # ...Bob approves.

    assert response.redirect_chain == [("/decisions/", 302)]
    assert "was already rejected when your verdict arrived; your verdict was not recorded" in text(response)
    assert SignOff.objects.filter(signer=bob).count() == 0


def test_reopening_a_decision_that_closed_says_so(client, make_staffed, make_caller, make_decision):
    staffed = make_staffed(people=2)
    alice, bob = staffed.signers
    decision = make_decision(make_caller(action_types=[staffed.action_type]).integration, staffed.action_type)
    logged_in(client, alice).post(page_of(decision), APPROVE)
    client.force_login(bob)

    response = client.get(page_of(decision), follow=True)

    assert response.redirect_chain == [("/decisions/", 302)]
    assert "no longer waits for you: it was approved" in text(response)


def test_signer_of_a_closed_decision_sees_it_closed_and_a_second_post_changes_nothing(client, signer, decision):
    logged_in(client, signer).post(page_of(decision), APPROVE)

    page = client.get(page_of(decision))
    again = client.post(page_of(decision), REJECT, follow=True)

    assert FORM not in text(page)
    assert "This decision is approved: it takes no more verdicts." in text(page)
    assert "This decision is already approved." in text(again)
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED


def test_person_who_signed_a_pending_decision_sees_no_form_and_cannot_sign_twice(
    client, make_staffed, make_caller, make_decision
):
    staffed = make_staffed(people=2, required_approvals=2)
    alice = staffed.signers[0]
    decision = make_decision(make_caller(action_types=[staffed.action_type]).integration, staffed.action_type)
    logged_in(client, alice).post(page_of(decision), APPROVE)

    page = client.get(page_of(decision))
    again = client.post(page_of(decision), APPROVE, follow=True)

    assert FORM not in text(page)
    assert "You have already signed this decision" in text(page)
    assert "You have already signed this decision" in text(again)
    assert SignOff.objects.filter(signer=alice).count() == 1


# --- Form validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**APPROVE, "reason_code": "false_positive"}, "This reason does not fit “Approve”"),
        ({**APPROVE, "rationale": "   "}, "A rationale is required for every verdict."),
        ({**APPROVE, "verdict": ""}, "Choose a verdict: approve, override or reject."),
        ({**APPROVE, "verdict": "execute"}, "Select a valid choice."),
        ({**APPROVE, "override_action": '{"target": {}}'}, "Only an override carries a changed action"),
        ({**APPROVE, "verdict": "override", "reason_code": "scope_too_broad"}, "An override must say what to execute"),
        (
            {**APPROVE, "verdict": "override", "reason_code": "scope_too_broad", "override_action": "{not json"},
            "Not valid JSON",
        ),
        (
            {**APPROVE, "verdict": "override", "reason_code": "scope_too_broad", "override_action": "[1, 2]"},
            "Give a non-empty JSON object",
        ),
    ],
)
def test_invalid_verdict_is_shown_on_the_form_and_records_nothing(client, signer, decision, data, message):
    response = logged_in(client, signer).post(page_of(decision), data)

    assert response.status_code == 400
    assert FORM in text(response)
    assert message in text(response)
    assert not SignOff.objects.exists()


def test_override_that_changes_the_action_type_is_a_form_error(client, signer, decision):
    response = logged_in(client, signer).post(
        page_of(decision),
        {**APPROVE, "verdict": "override", "reason_code": "wrong_target", "override_action": '{"action_type": "x"}'},
    )

    assert response.status_code == 400
    assert "An override changes how the action is carried out" in text(response)
    assert not SignOff.objects.exists()


def test_text_from_the_integration_is_escaped(client, signer, caller, staffed, make_decision):
    nasty = make_decision(
        caller.integration,
        staffed.action_type,
        title="<script>alert(1)</script>",
        evidence={"note": "<img src=x onerror=alert(2)>"},
    )

    response = logged_in(client, signer).get(page_of(nasty))

    assert "<script>alert(1)</script>" not in text(response)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(response)
    assert "<img src=x" not in text(response)


# --- All decisions, login, logout ---------------------------------------------------------


@pytest.mark.parametrize(("group", "status"), [(rbac.AUDITOR, 200), (rbac.GOVERNANCE_LEAD, 200), (rbac.ANALYST, 403)])
def test_only_reviewers_list_all_decisions(client, group, status):
    user = make_user_in_group(group, is_staff=group != rbac.ANALYST)

    assert logged_in(client, user).get("/decisions/all/").status_code == status


def test_anonymous_cannot_list_all_decisions(client):
    response = client.get("/decisions/all/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_analyst_logs_in_on_the_login_page_and_lands_on_the_queue(client):
    UserFactory(username="nadia", groups=[rbac.ANALYST])

    response = client.post("/accounts/login/", {"login": "nadia", "password": "correct-horse-battery"})

    assert response.status_code == 302
    assert response.url == "/decisions/"


def test_logout_is_a_post_and_returns_to_the_login_page(client, signer):
    response = logged_in(client, signer).post("/accounts/logout/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/"
    assert client.get("/decisions/").status_code == 302


def test_admin_login_page_sends_to_the_portal_login(client):
    """One way in (throttled, MFA, SSO): the admin's own password form is never shown."""
    response = client.get("/admin/login/?next=/admin/governance/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=%2Fadmin%2Fgovernance%2F"


def test_site_root_opens_the_queue(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.url == "/decisions/"
