"""The red banners: the sweep stops (older than three periods) and the analyst pages and the
admin say since when; the sweep returns and they go; the leads are emailed once per stall; a
decision log whose latest verification failed, or is too old, is announced too."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from decisions.escalation import sweep
from decisions.health import heartbeat
from decisions.models import Heartbeat, LedgerVerification, VerificationMode
from governance import rbac
from tests.governance.factories import make_user_in_group

pytestmark = pytest.mark.django_db
STALLED = "Escalations are not running since"
UNVERIFIED = "The decision log no longer verifies"


@pytest.fixture
def lead():
    return make_user_in_group(rbac.GOVERNANCE_LEAD, email="grace@example.com")


@pytest.fixture
def analyst():
    return make_user_in_group(rbac.ANALYST, is_staff=False)


def stop_sweep(settings, seconds_ago: float) -> Heartbeat:
    settings.ESCALATION_SWEEP_SECONDS = 5
    return Heartbeat.objects.create(name=Heartbeat.SWEEP, at=timezone.now() - timedelta(seconds=seconds_ago))


def verification(*, intact: bool, age: timedelta, problems=()) -> LedgerVerification:
    return LedgerVerification.objects.create(
        mode=VerificationMode.INCREMENTAL,
        started_at=timezone.now() - age,
        duration_ms=3,
        intact=intact,
        problems=list(problems),
    )


def banner_text(response) -> str:
    return response.content.decode()


def test_analyst_page_shows_the_stalled_sweep_and_since_when(client, settings, analyst):
    beat = stop_sweep(settings, seconds_ago=16)
    client.force_login(analyst)

    page = banner_text(client.get("/decisions/"))

    assert STALLED in page
    assert f"{beat.at:%Y-%m-%d %H:%M:%S} UTC" in page
    assert 'role="alert"' in page


def test_a_sweep_within_three_periods_shows_no_banner(client, settings, analyst):
    stop_sweep(settings, seconds_ago=14)
    client.force_login(analyst)

    assert STALLED not in banner_text(client.get("/decisions/"))


def test_banner_disappears_when_the_sweep_runs_again(client, settings, analyst):
    stop_sweep(settings, seconds_ago=60)
    client.force_login(analyst)
    assert STALLED in banner_text(client.get("/decisions/"))

    sweep.sweep_overdue()  # beat is back: the real sweep writes the heartbeat

    assert STALLED not in banner_text(client.get("/decisions/"))


def test_admin_shows_the_stalled_sweep(client, settings, lead):
    stop_sweep(settings, seconds_ago=120)
    client.force_login(lead)

    for url in ("/admin/", "/admin/governance/roster/"):
        assert STALLED in banner_text(client.get(url)), url


def test_login_page_shows_no_banner(client, settings):
    stop_sweep(settings, seconds_ago=120)

    assert STALLED not in banner_text(client.get("/accounts/login/"))
    assert STALLED not in banner_text(client.get("/admin/login/"))


def test_leads_are_emailed_once_per_stall(client, settings, lead, analyst):
    beat = stop_sweep(settings, seconds_ago=60)
    client.force_login(analyst)

    client.get("/decisions/")
    client.get("/decisions/")
    client.get("/readyz")

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["grace@example.com"]
    assert f"{beat.at:%Y-%m-%d %H:%M:%S}" in mail.outbox[0].body

    sweep.sweep_overdue()  # the stall ends ...
    client.get("/decisions/")
    assert len(mail.outbox) == 1
    # ... and, later, a new one starts: the first alert is older than the last heartbeat.
    now = timezone.now()
    Heartbeat.objects.filter(pk=beat.pk).update(at=now - timedelta(seconds=60), alerted_at=now - timedelta(minutes=10))

    client.get("/decisions/")
    client.get("/decisions/")

    assert len(mail.outbox) == 2


def test_two_processes_noticing_the_same_stall_send_one_email(settings, lead):
    stop_sweep(settings, seconds_ago=60)
    first, second = heartbeat.health_state(), heartbeat.health_state()  # both read before either wrote

    sent = [heartbeat.escalation_stall_alert(state=first), heartbeat.escalation_stall_alert(state=second)]

    assert sent == [True, False]
    assert len(mail.outbox) == 1


def test_a_failed_verification_shows_its_first_problem(client, analyst, lead):
    verification(intact=True, age=timedelta(minutes=5))
    verification(intact=False, age=timedelta(seconds=10), problems=["decision 1: row says approved, log says rejected"])

    for user, url in ((analyst, "/decisions/"), (lead, "/admin/")):
        client.force_login(user)
        page = banner_text(client.get(url))
        assert f"{UNVERIFIED}: decision 1: row says approved, log says rejected." in page


def test_a_verification_older_than_three_cadences_is_announced(client, settings, analyst):
    settings.LEDGER_CHECKPOINT_SECONDS = 60
    verification(intact=True, age=timedelta(seconds=181))
    client.force_login(analyst)

    page = banner_text(client.get("/decisions/"))

    assert f"{UNVERIFIED}: it was last verified at" in page


def test_a_recent_intact_verification_shows_no_banner(client, settings, analyst):
    settings.LEDGER_CHECKPOINT_SECONDS = 60
    verification(intact=False, age=timedelta(minutes=10), problems=["old trouble"])
    verification(intact=True, age=timedelta(seconds=30))
    client.force_login(analyst)

    assert UNVERIFIED not in banner_text(client.get("/decisions/"))


def test_banner_text_is_escaped(client, analyst):
    verification(intact=False, age=timedelta(seconds=1), problems=["<script>alert(1)</script>"])
    client.force_login(analyst)

    page = banner_text(client.get("/decisions/"))

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
