"""SSO in Chromium against a real OpenID Connect provider process (oidc-provider-mock): users
created just in time with their mapped groups, groups recomputed at every login, unmapped users
refused, and step-up at signing (an SSO round trip) recorded on the sign-off event."""

import re
import time
from datetime import datetime

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import expect

from decisions.models import DecisionEvent, EventKind, SignOff
from governance import rbac
from governance.models import IdPGroupMapping, Level, StepUp
from tests.browser.scenes import log_out
from tests.browser.test_analyst_pages_a11y import assert_accessible
from tests.decisions.factories import make_integration, submit
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    CertificationFactory,
    DecisionRoleFactory,
    OwnershipAssignmentFactory,
    RosterFactory,
)
from tests.identity_provider import OIDCProvider, oidc_app_settings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def idp():
    with OIDCProvider() as running:
        yield running


@pytest.fixture
def sso(idp, settings):
    settings.SOCIALACCOUNT_PROVIDERS = oidc_app_settings(idp)
    rbac.ensure_groups(django_apps)  # a transactional test flushed the migration's rows
    for idp_group, group in (("soc-analysts", rbac.ANALYST), ("soc-leads", rbac.GOVERNANCE_LEAD)):
        IdPGroupMapping.objects.create(provider="acme", idp_group=idp_group, group=Group.objects.get(name=group))
    return idp


def sso_log_in(page, live_server, idp, sub: str, *, check_a11y: bool = False) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    if check_a11y:
        assert_accessible(page, "login page with SSO")
    page.get_by_role("button", name="Sign in with Acme IdP").click()
    authorise_at_idp(page, idp, sub)


def authorise_at_idp(page, idp, sub: str) -> None:
    page.wait_for_url(f"{idp.url}/oauth2/authorize**")
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()


def ada_claims(*groups: str) -> dict:
    return {"preferred_username": "ada", "name": "Ada Lovelace", "email": "ada@soc.example", "groups": list(groups)}


def test_first_login_creates_the_user_with_the_mapped_groups(page, live_server, sso):
    sso.set_user("ada-sub", ada_claims("soc-analysts", "everyone"))

    sso_log_in(page, live_server, sso, "ada-sub", check_a11y=True)

    expect(page).to_have_url(f"{live_server.url}/decisions/")
    expect(page.get_by_text("Signed in as")).to_contain_text("Ada Lovelace")
    ada = User.objects.get(socialaccount__uid="ada-sub")
    assert [g.name for g in ada.groups.all()] == [rbac.ANALYST]
    assert not ada.is_staff
    assert not ada.has_usable_password()


def test_a_changed_group_claim_changes_access_at_the_next_login(page, live_server, sso):
    sso.set_user("ada-sub", ada_claims("soc-analysts"))
    sso_log_in(page, live_server, sso, "ada-sub")
    page.goto(f"{live_server.url}/admin/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))  # an analyst: not the admin
    page.goto(f"{live_server.url}/decisions/")
    log_out(page)

    sso.set_user("ada-sub", ada_claims("soc-leads"))
    sso_log_in(page, live_server, sso, "ada-sub")

    ada = User.objects.get(socialaccount__uid="ada-sub")
    assert [g.name for g in ada.groups.all()] == [rbac.GOVERNANCE_LEAD]
    assert ada.is_staff
    page.goto(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Governance configuration")).to_be_visible()
    page.goto(f"{live_server.url}/decisions/all/")
    expect(page.get_by_role("heading", name="All decisions")).to_be_visible()


def test_an_unmapped_user_is_refused_with_a_clear_page_and_nothing_is_created(page, live_server, sso):
    sso.set_user("eve-sub", {"preferred_username": "eve", "groups": ["marketing"]})

    sso_log_in(page, live_server, sso, "eve-sub")

    expect(page.get_by_role("heading", name="No access to Countersign")).to_be_visible()
    expect(page.get_by_text("Groups your organisation sent: marketing.")).to_be_visible()
    assert_accessible(page, "no-access page")
    assert not User.objects.filter(socialaccount__uid="eve-sub").exists()
    page.goto(f"{live_server.url}/decisions/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/decisions/"))


def test_a_user_removed_from_every_mapped_group_loses_access(page, live_server, sso, browser):
    sso.set_user("ada-sub", ada_claims("soc-analysts"))
    sso_log_in(page, live_server, sso, "ada-sub")
    other = browser.new_context().new_page()  # a second session of Ada's, still open
    sso_log_in(other, live_server, sso, "ada-sub")
    expect(other).to_have_url(f"{live_server.url}/decisions/")

    sso.set_user("ada-sub", ada_claims("everyone"))
    log_out(page)
    sso_log_in(page, live_server, sso, "ada-sub")

    expect(page.get_by_role("heading", name="No access to Countersign")).to_be_visible()
    ada = User.objects.get(socialaccount__uid="ada-sub")
    assert list(ada.groups.all()) == []
    other.goto(f"{live_server.url}/decisions/")  # the open session ended with the access
    expect(other).to_have_url(re.compile(r"/accounts/login/\?next=/decisions/"))
    other.context.close()


def _age_the_sign_in(page, seconds: float) -> float:
    """Move the session's authentication records ``seconds`` into the past (as if Ada had
    signed in that long ago); returns the new time of her sign-in."""
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=key)
    records = session["account_authentication_methods"]
    for record in records:
        record["at"] -= seconds
        if "auth_time" in record:  # the ID token's (oidc-provider-mock's: when it issued it)
            record["auth_time"] -= seconds
    session["account_authentication_methods"] = records
    session.save()
    return records[-1].get("auth_time", records[-1]["at"])


def _step_up_scene(live_server, ada_sub: str = "ada-sub"):
    role = DecisionRoleFactory(slug="incident-commander", name="Incident Commander")
    action_type = ActionTypeFactory(slug="disable-account", name="Disable account")
    OwnershipAssignmentFactory(action_type=action_type, owner_role=role)
    ApprovalPolicyFactory(
        name="High blast: fresh sign-in",
        action_types=[action_type],
        min_blast_radius=Level.HIGH,
        step_up=StepUp.RECENT,
        step_up_minutes=5,
    )
    ada = User.objects.get(socialaccount__uid=ada_sub)
    RosterFactory(role=role, users=[ada])
    CertificationFactory(user=ada, role=role)
    return submit(action_type, integration=make_integration(action_type), blast_radius=Level.HIGH)


def _record_verdict(page) -> None:
    page.get_by_label("Approve", exact=True).check()
    page.get_by_label("Reason", exact=True).select_option(label="Evidence supports the action")
    page.get_by_label("Rationale").fill("The account sprayed 40 hosts overnight; disable it.")
    page.get_by_role("button", name="Record my verdict").click()


def test_an_idp_that_does_not_sign_in_again_is_refused_and_its_amr_gives_the_mfa(page, live_server, sso):
    """The ID token's auth_time is the authentication time: an IdP that ignores max_age and
    reports an old sign-in does not pass the step-up; a fresh one with ``amr`` "otp" records MFA."""
    sso.set_user("ada-sub", ada_claims("soc-analysts"))
    sso_log_in(page, live_server, sso, "ada-sub")
    decision = _step_up_scene(live_server)
    _age_the_sign_in(page, 600)
    stale = int(time.time()) - 3600
    sso.set_user("ada-sub", {**ada_claims("soc-analysts"), "auth_time": stale})

    page.goto(f"{live_server.url}/decisions/{decision.public_id}/")
    _record_verdict(page)
    page.get_by_role("button", name="Continue").click()
    authorise_at_idp(page, sso, "ada-sub")
    expect(page).to_have_url(f"{live_server.url}/decisions/{decision.public_id}/?draft=kept")
    page.get_by_role("button", name="Record my verdict").click()

    # Refused again: sent back towards the IdP, nothing signed.
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
    expect(page.get_by_text("within the last 5 minutes")).to_be_visible()
    assert not SignOff.objects.filter(decision=decision).exists()

    fresh = int(time.time())
    sso.set_user("ada-sub", {**ada_claims("soc-analysts"), "auth_time": fresh, "amr": ["pwd", "otp"]})
    page.get_by_role("button", name="Continue").click()
    authorise_at_idp(page, sso, "ada-sub")
    expect(page).to_have_url(f"{live_server.url}/decisions/{decision.public_id}/?draft=kept")
    page.get_by_role("button", name="Record my verdict").click()

    expect(page.get_by_role("status")).to_contain_text("Your approval is recorded.")
    auth = DecisionEvent.objects.get(decision=decision, kind=EventKind.SIGNED).data["auth"]
    assert datetime.fromisoformat(auth["authenticated_at"]).timestamp() == fresh
    assert auth["auth_time_source"] == "idp"
    assert auth["mfa"] is True


def test_step_up_on_a_high_blast_decision_forces_an_sso_round_trip_and_the_event_carries_its_time(
    page, live_server, sso
):
    role = DecisionRoleFactory(slug="incident-commander", name="Incident Commander")
    action_type = ActionTypeFactory(slug="disable-account", name="Disable account")
    OwnershipAssignmentFactory(action_type=action_type, owner_role=role)
    ApprovalPolicyFactory(
        name="High blast: fresh sign-in",
        action_types=[action_type],
        min_blast_radius=Level.HIGH,
        step_up=StepUp.RECENT,
        step_up_minutes=5,
    )
    sso.set_user("ada-sub", ada_claims("soc-analysts"))
    sso_log_in(page, live_server, sso, "ada-sub")
    ada = User.objects.get(socialaccount__uid="ada-sub")
    RosterFactory(role=role, users=[ada])
    CertificationFactory(user=ada, role=role)
    decision = submit(action_type, integration=make_integration(action_type), blast_radius=Level.HIGH)
    stale = _age_the_sign_in(page, 600)

    page.goto(f"{live_server.url}/decisions/{decision.public_id}/")
    expect(page.locator("#step-up-notice")).to_contain_text("within the last 5 minutes")
    assert_accessible(page, "decision page with a step-up notice")
    page.get_by_label("Approve", exact=True).check()
    page.get_by_label("Reason", exact=True).select_option(label="Evidence supports the action")
    page.get_by_label("Rationale").fill("The account sprayed 40 hosts overnight; disable it.")
    page.get_by_role("button", name="Record my verdict").click()

    # Sent to the IdP (allauth asks to continue first), the verdict kept meanwhile.
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
    assert_accessible(page, "continue to the IdP")
    page.get_by_role("button", name="Continue").click()
    authorise_at_idp(page, sso, "ada-sub")
    expect(page).to_have_url(f"{live_server.url}/decisions/{decision.public_id}/?draft=kept")
    expect(page.get_by_label("Rationale")).to_have_value("The account sprayed 40 hosts overnight; disable it.")
    expect(page.get_by_label("Approve", exact=True)).to_be_checked()
    assert not SignOff.objects.filter(decision=decision).exists()
    page.get_by_role("button", name="Record my verdict").click()

    expect(page.get_by_role("status")).to_contain_text("Your approval is recorded.")
    signed = DecisionEvent.objects.get(decision=decision, kind=EventKind.SIGNED)
    auth = signed.data["auth"]
    assert auth["method"] == "sso"
    assert auth["provider"] == "acme"
    assert auth["mfa"] is False
    assert datetime.fromisoformat(auth["authenticated_at"]).timestamp() > stale + 500  # the fresh round trip
    expect(page.locator("td.signoff-auth")).to_contain_text("SSO (acme), no MFA")
