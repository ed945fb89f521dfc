"""Roster editing in the admin: the schedule preview, the coverage-gap check, the governance overview."""

import re
from datetime import datetime, time, timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from governance.models import Roster, RosterMember, RosterOverride
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    CertificationFactory,
    DecisionRoleFactory,
    EscalationChainFactory,
    OwnershipAssignmentFactory,
    RosterFactory,
    RosterOverrideFactory,
    UserFactory,
    make_owned_action_type,
)
from tests.helpers import admin_form_data

pytestmark = pytest.mark.django_db

CONFIRM_LABEL = "Save even though an owning role will have nobody on call or a quorum cannot be met"


def _roster_url(roster: Roster) -> str:
    return reverse("admin:governance_roster_change", args=[roster.pk])


def _gap_text(start: datetime, end: datetime) -> str:
    return f"{start:%a %d %b %H:%M} – {end:%a %d %b %H:%M} UTC"


def _remove_first_member(client, roster: Roster, **changes) -> dict:
    data = admin_form_data(client.get(_roster_url(roster)), change_reason="Rotation change", **changes)
    data["memberships-0-DELETE"] = "on"
    return data


def test_roster_change_page_shows_the_14_day_schedule_with_who_is_on_call(client, lead):
    on_call = UserFactory(first_name="Ada", last_name="Lovelace")
    roster = RosterFactory(users=[on_call])

    response = client.get(_roster_url(roster))

    table = re.search(r'<table class="cs-preview">.*?</table>', response.content.decode(), re.S)
    assert table is not None
    assert "Ada Lovelace" in table.group(0)
    assert "rotation" in table.group(0)


def test_removing_the_last_member_of_an_owning_roles_roster_is_refused_naming_the_gap(client, lead):
    _, role, roster, _ = make_owned_action_type(members=1)
    data = _remove_first_member(client, roster)

    before = timezone.now()
    response = client.post(_roster_url(roster), data)
    after = timezone.now()

    page = response.content.decode()
    assert response.status_code == 200
    assert f"{role.name} would have nobody on call:" in page
    horizon = timedelta(days=14)
    assert _gap_text(before, before + horizon) in page or _gap_text(after, after + horizon) in page
    assert f"Tick “{CONFIRM_LABEL}” to save anyway." in page
    assert RosterMember.objects.filter(roster=roster).count() == 1


def test_setting_a_coverage_window_on_an_owning_roles_roster_is_refused_naming_the_nightly_gap(client, lead):
    _, role, roster, _ = make_owned_action_type(members=2)
    data = admin_form_data(
        client.get(_roster_url(roster)),
        coverage_start="09:00",
        coverage_end="17:00",
        change_reason="Office hours only",
    )
    now = timezone.now()
    evening = datetime.combine(now.date(), time(17, 0), tzinfo=now.tzinfo)
    if evening <= now:
        evening += timedelta(days=1)

    response = client.post(_roster_url(roster), data)

    page = response.content.decode()
    assert response.status_code == 200
    assert f"{role.name} would have nobody on call:" in page
    assert _gap_text(evening, evening + timedelta(hours=16)) in page
    assert f"Tick “{CONFIRM_LABEL}” to save anyway." in page
    roster.refresh_from_db()
    assert roster.coverage_start is None


def test_a_coverage_start_without_an_end_is_a_form_error_not_a_crash(client, lead):
    _, _, roster, _ = make_owned_action_type(members=2)
    data = admin_form_data(
        client.get(_roster_url(roster)), coverage_start="09:00", coverage_end="", change_reason="Office hours"
    )

    response = client.post(_roster_url(roster), data)

    assert response.status_code == 200
    assert "Set both coverage times (different from each other) or neither." in response.content.decode()
    roster.refresh_from_db()
    assert roster.coverage_start is None


def test_confirming_the_coverage_gap_saves_the_roster_change(client, lead):
    _, _, roster, (member,) = make_owned_action_type(members=1)
    data = _remove_first_member(client, roster, confirm_coverage_gaps="on")

    response = client.post(_roster_url(roster), data)

    assert response.status_code == 302
    assert not RosterMember.objects.filter(roster=roster).exists()
    deleted = LogEntry.objects.get(content_type__model="rostermember", action=LogEntry.Action.DELETE)
    assert deleted.actor == lead
    assert deleted.additional_data["roster"]["id"] == roster.pk


def test_roster_change_that_leaves_no_gap_saves_without_confirmation(client, lead):
    _, _, roster, (_, second) = make_owned_action_type(members=2)
    data = _remove_first_member(client, roster)

    response = client.post(_roster_url(roster), data)

    assert response.status_code == 302
    assert list(RosterMember.objects.filter(roster=roster).values_list("user", flat=True)) == [second.pk]


def test_emptying_the_roster_of_a_role_that_owns_nothing_saves_without_confirmation(client, lead):
    roster = RosterFactory(users=[UserFactory()])
    data = _remove_first_member(client, roster)

    response = client.post(_roster_url(roster), data)

    assert response.status_code == 302
    assert not RosterMember.objects.filter(roster=roster).exists()


def test_moving_the_only_roster_of_an_owning_role_to_another_role_is_refused(client, lead):
    _, role, roster, _ = make_owned_action_type(members=1)
    data = admin_form_data(
        client.get(_roster_url(roster)), role=str(DecisionRoleFactory().pk), change_reason="Reorganise"
    )

    response = client.post(_roster_url(roster), data)

    assert response.status_code == 200
    assert f"{role.name} would have nobody on call:" in response.content.decode()
    roster.refresh_from_db()
    assert roster.role == role


def test_deleting_the_override_that_covers_an_owning_role_is_refused(client, lead):
    role = DecisionRoleFactory()
    OwnershipAssignmentFactory(owner_role=role)
    roster = RosterFactory(role=role)
    now = timezone.now()
    override = RosterOverrideFactory(
        roster=roster, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=30)
    )
    data = admin_form_data(client.get(_roster_url(roster)), change_reason="Cover no longer needed")
    data["overrides-0-DELETE"] = "on"

    response = client.post(_roster_url(roster), data)

    assert response.status_code == 200
    assert f"{role.name} would have nobody on call:" in response.content.decode()
    assert RosterOverride.objects.filter(pk=override.pk).exists()


def test_removing_the_last_member_while_adding_an_override_that_covers_the_horizon_saves(client, lead):
    _, _, roster, (member,) = make_owned_action_type(members=1)
    now = timezone.now()
    data = _remove_first_member(client, roster)
    data.update(
        {
            "overrides-TOTAL_FORMS": "1",
            "overrides-0-roster": str(roster.pk),
            "overrides-0-user": str(member.pk),
            "overrides-0-starts_at_0": f"{now - timedelta(days=1):%d/%m/%Y}",
            "overrides-0-starts_at_1": "00:00:00",
            "overrides-0-ends_at_0": f"{now + timedelta(days=30):%d/%m/%Y}",
            "overrides-0-ends_at_1": "00:00:00",
        }
    )

    response = client.post(_roster_url(roster), data)

    assert response.status_code == 302
    assert not RosterMember.objects.filter(roster=roster).exists()
    assert RosterOverride.objects.filter(roster=roster, user=member).exists()


def test_action_type_changelist_flags_a_human_owned_action_type_without_owner(client, lead):
    ActionTypeFactory(name="Quarantine mailbox")

    response = client.get(reverse("admin:governance_actiontype_changelist"))

    assert '<strong class="cs-gap">No owner — governance gap</strong>' in response.content.decode()


def test_admin_index_lists_human_owned_action_types_without_an_owner(client, lead):
    ActionTypeFactory(name="Quarantine mailbox")
    ActionTypeFactory(name="Deduplicate alert", automation=True)

    response = client.get("/admin/")

    page = response.content.decode()
    assert "Action types with no owner" in page
    assert "Quarantine mailbox" in page
    assert "Deduplicate alert" not in page


def test_admin_index_shows_who_is_on_call_now_per_role(client, lead):
    _, role, roster, (member,) = make_owned_action_type(members=1)
    member.first_name, member.last_name = "Grace", "Hopper"
    member.save()

    response = client.get("/admin/")

    assert f"<li>{role.name}: Grace Hopper</li>" in response.content.decode()


def test_admin_index_shows_certifications_expiring_within_30_days(client, lead):
    now = timezone.now()
    CertificationFactory(
        user=UserFactory(first_name="Katherine", last_name="Johnson"), valid_until=now + timedelta(days=10)
    )
    CertificationFactory(
        user=UserFactory(first_name="Dorothy", last_name="Vaughan"), valid_until=now + timedelta(days=60)
    )

    response = client.get("/admin/")

    page = response.content.decode()
    assert "Certifications expiring within 30 days" in page
    assert "Katherine Johnson" in page
    assert "Dorothy Vaughan" not in page


def _two_approver_role():
    """An owning role with two around-the-clock rosters of one certified person each, and a
    policy that needs two approvers: reachable, until one roster loses its member."""
    _, role, first, (alone,) = make_owned_action_type(members=1)
    second_person = UserFactory()
    second = RosterFactory(role=role, users=[second_person])
    CertificationFactory(user=second_person, role=role)
    ApprovalPolicyFactory(name="Two approvers", required_approvals=2)
    return role, first, second


def test_a_roster_change_that_leaves_a_quorum_unreachable_is_refused_naming_the_policy(client, lead):
    role, _first, second = _two_approver_role()

    response = client.post(_roster_url(second), _remove_first_member(client, second))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Two approvers needs 2 distinct approvers" in page
    assert "at most 1 certified people" in page
    assert f"Tick “{CONFIRM_LABEL}” to save anyway." in page
    assert RosterMember.objects.filter(roster=second).count() == 1


def test_confirming_the_unreachable_quorum_saves_the_roster_change(client, lead):
    _role, _first, second = _two_approver_role()

    response = client.post(_roster_url(second), _remove_first_member(client, second, confirm_coverage_gaps="on"))

    assert response.status_code == 302
    assert RosterMember.objects.filter(roster=second).count() == 0


def test_a_roster_change_that_keeps_the_quorum_reachable_saves_without_asking(client, lead):
    _role, _first, second = _two_approver_role()
    newcomer = UserFactory()
    CertificationFactory(user=newcomer, role=second.role)
    data = admin_form_data(client.get(_roster_url(second)), change_reason="Second person on the rota")
    data.update({"memberships-1-user": str(newcomer.pk), "memberships-1-position": "1"})

    response = client.post(_roster_url(second), data)

    assert response.status_code == 302


def test_the_roster_lists_time_zone_filter_offers_only_the_zones_in_use(client, lead):
    RosterFactory(time_zone="Europe/Berlin")
    RosterFactory(time_zone="America/New_York")
    RosterFactory(time_zone="Europe/Berlin")

    response = client.get(reverse("admin:governance_roster_changelist"))

    (zones,) = [f for f in response.context["cl"].filter_specs if getattr(f, "field_path", "") == "time_zone"]
    offered = [c["display"] for c in zones.choices(response.context["cl"])][1:]  # after "All"
    assert offered == ["America/New_York", "Europe/Berlin"]


def test_filtering_the_roster_list_by_a_zone_in_use_lists_its_rosters(client, lead):
    berlin = RosterFactory(time_zone="Europe/Berlin")
    RosterFactory(time_zone="America/New_York")

    response = client.get(reverse("admin:governance_roster_changelist") + "?time_zone=Europe%2FBerlin")

    assert list(response.context["cl"].result_list) == [berlin]


def test_saving_a_policy_whose_quorum_one_roster_cannot_fill_warns(client, lead):
    action_type, role, _roster, _people = make_owned_action_type(members=2)  # two people, one on call at a time
    url = reverse("admin:governance_approvalpolicy_add")
    data = admin_form_data(
        client.get(url),
        name="Two approvers",
        priority="10",
        action_types=[str(action_type.pk)],
        required_approvals="2",
        escalation_chain=str(EscalationChainFactory().pk),
        change_reason="Four eyes",
    )

    response = client.post(url, data, follow=True)

    shown = [str(m) for m in response.context["messages"]]
    assert any("Two approvers needs 2 distinct approvers" in m and "escalate at once" in m for m in shown), shown
    assert role.name in " ".join(shown)


def test_saving_a_policy_the_rosters_can_fill_does_not_warn(client, lead):
    action_type, _role, _roster, _people = make_owned_action_type(members=2)
    url = reverse("admin:governance_approvalpolicy_add")
    data = admin_form_data(
        client.get(url),
        name="One approver",
        priority="10",
        action_types=[str(action_type.pk)],
        max_blast_radius="2",
        escalation_chain=str(EscalationChainFactory().pk),
        change_reason="Owner signs",
    )

    response = client.post(url, data, follow=True)

    assert not [m for m in response.context["messages"] if "distinct approvers" in str(m)]
