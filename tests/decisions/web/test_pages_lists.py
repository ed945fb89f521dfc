"""What the queue and the all-decisions list show: which decisions, in which order, filtered how."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from decisions.lifecycle import signing
from decisions.models import DecisionRequest
from governance import rbac
from tests.governance.factories import make_user_in_group
from tests.helpers import force_update

pytestmark = pytest.mark.django_db

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Confirmed on the EDR console."}


def listed(response) -> list[str]:
    """Decision titles in page order."""
    return [d.title for d in response.context["decisions"]]


def titles(response) -> list[str]:
    return [d.title for d in response.context["page"].object_list]


# --- My queue -------------------------------------------------------------------------------


def test_queue_lists_what_the_person_may_sign_soonest_deadline_first(client, make_staffed, make_caller, make_decision):
    staffed = make_staffed()
    me = staffed.signers[0]
    caller = make_caller(action_types=[staffed.action_type])
    later = make_decision(caller.integration, staffed.action_type, title="Later")
    sooner = make_decision(caller.integration, staffed.action_type, title="Sooner")
    DecisionRequest.objects.filter(pk=later.pk).update(deadline=timezone.now() + timedelta(hours=2))
    DecisionRequest.objects.filter(pk=sooner.pk).update(deadline=timezone.now() + timedelta(minutes=5))
    client.force_login(me)

    assert listed(client.get("/decisions/")) == ["Sooner", "Later"]


def test_queue_leaves_out_decisions_routed_to_others(client, make_staffed, make_caller, make_decision):
    mine, theirs = make_staffed(), make_staffed()
    caller = make_caller(action_types=[mine.action_type, theirs.action_type])
    make_decision(caller.integration, mine.action_type, title="Mine")
    make_decision(caller.integration, theirs.action_type, title="Theirs")
    client.force_login(mine.signers[0])

    assert listed(client.get("/decisions/")) == ["Mine"]


def test_queue_leaves_out_decided_ones(client, signer, decision):
    signing.decision_sign_off(decision=decision, actor=signer, **APPROVE)
    client.force_login(signer)

    response = client.get("/decisions/")

    assert listed(response) == []
    assert "Nothing waits for you" in response.content.decode()


def test_queue_leaves_out_what_the_person_already_approved(client, make_staffed, make_caller, make_decision):
    staffed = make_staffed(people=2, required_approvals=2)
    alice = staffed.signers[0]
    decision = make_decision(make_caller(action_types=[staffed.action_type]).integration, staffed.action_type)
    signing.decision_sign_off(decision=decision, actor=alice, **APPROVE)
    client.force_login(alice)

    assert listed(client.get("/decisions/")) == []


def test_queue_leaves_out_what_the_person_submitted(client, signer, caller, staffed, make_decision):
    make_decision(caller.integration, staffed.action_type, actor=signer)
    client.force_login(signer)

    assert listed(client.get("/decisions/")) == []


def test_empty_queue_says_nothing_waits_and_where_the_person_is_on_call(client, staffed, signer):
    client.force_login(signer)

    page = client.get("/decisions/").content.decode()

    assert "Nothing waits for you" in page
    assert f"You are on call as\n    <strong>{staffed.role.name}</strong>" in page


def test_queue_shows_deadline_badges_and_approvals(client, signer, decision):
    client.force_login(signer)

    page = client.get("/decisions/").content.decode()

    assert "Severity: High" in page
    assert "Blast radius: Medium" in page
    assert "0 of 1" in page
    assert f'data-deadline="{decision.deadline.astimezone(UTC).isoformat()}"' in page


def test_times_are_shown_in_the_display_time_zone_with_utc_in_the_title(client, signer, decision, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    DecisionRequest.objects.filter(pk=decision.pk).update(deadline=datetime(2031, 1, 15, 12, 30, tzinfo=UTC))
    client.force_login(signer)

    page = client.get("/decisions/").content.decode()

    expected = '<time datetime="2031-01-15T12:30:00+00:00" title="2031-01-15 12:30:00 UTC">15 Jan 2031, 13:30 CET'
    assert expected in page


# --- All decisions ------------------------------------------------------------------------


@pytest.fixture
def auditor_client(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))
    return client


def test_all_decisions_lists_every_decision_newest_first(auditor_client, make_staffed, make_caller, make_decision):
    staffed = make_staffed()
    caller = make_caller(action_types=[staffed.action_type])
    for title in ("First", "Second", "Third"):
        make_decision(caller.integration, staffed.action_type, title=title)

    assert titles(auditor_client.get("/decisions/all/")) == ["Third", "Second", "First"]


def test_all_decisions_filters_by_status(auditor_client, signer, caller, staffed, make_decision):
    done = make_decision(caller.integration, staffed.action_type, title="Done")
    make_decision(caller.integration, staffed.action_type, title="Open")
    signing.decision_sign_off(decision=done, actor=signer, **APPROVE)

    assert titles(auditor_client.get("/decisions/all/?status=approved")) == ["Done"]
    assert titles(auditor_client.get("/decisions/all/?status=pending")) == ["Open"]


def test_all_decisions_filters_by_action_type(auditor_client, make_staffed, make_caller, make_decision):
    one, two = make_staffed(), make_staffed()
    caller = make_caller(action_types=[one.action_type, two.action_type])
    make_decision(caller.integration, one.action_type, title="One")
    make_decision(caller.integration, two.action_type, title="Two")

    assert titles(auditor_client.get(f"/decisions/all/?action_type={two.action_type.slug}")) == ["Two"]


def test_all_decisions_searches_title_and_incident(auditor_client, caller, staffed, make_decision):
    make_decision(caller.integration, staffed.action_type, title="Isolate wks-042", incident_ref="INC-1")
    make_decision(caller.integration, staffed.action_type, title="Disable account", incident_ref="INC-4711")

    assert titles(auditor_client.get("/decisions/all/?q=WKS-042")) == ["Isolate wks-042"]
    assert titles(auditor_client.get("/decisions/all/?q=inc-4711")) == ["Disable account"]


def test_all_decisions_filters_whole_days_in_the_display_time_zone(
    auditor_client, caller, staffed, make_decision, settings
):
    settings.TIME_ZONE = "Europe/Berlin"
    late = make_decision(caller.integration, staffed.action_type, title="Late on the 14th, Berlin time")
    early = make_decision(caller.integration, staffed.action_type, title="Early on the 15th, Berlin time")
    force_update(DecisionRequest.objects.filter(pk=late.pk), created_at=datetime(2031, 1, 14, 22, 30, tzinfo=UTC))
    force_update(DecisionRequest.objects.filter(pk=early.pk), created_at=datetime(2031, 1, 14, 23, 30, tzinfo=UTC))

    day = auditor_client.get("/decisions/all/?created_from=2031-01-15&created_to=2031-01-15")
    before = auditor_client.get("/decisions/all/?created_to=2031-01-14")

    assert titles(day) == ["Early on the 15th, Berlin time"]
    assert titles(before) == ["Late on the 14th, Berlin time"]


def test_all_decisions_reports_a_backwards_date_range(auditor_client, decision):
    response = auditor_client.get("/decisions/all/?created_from=2031-01-15&created_to=2031-01-01")

    assert titles(response) == []
    assert "The end date is before the start date." in response.content.decode()


def test_all_decisions_pages_by_fifty(auditor_client, caller, staffed, make_decision):
    for n in range(51):
        make_decision(caller.integration, staffed.action_type, title=f"Decision {n}")

    first = auditor_client.get("/decisions/all/")
    second = auditor_client.get("/decisions/all/?page=2")

    assert len(titles(first)) == 50
    assert titles(second) == ["Decision 0"]
    assert 'href="?page=2"' in first.content.decode()
