"""GET /api/v1/decisions/{id}/?wait=N: a pending decision answers as soon as it closes or when
the wait ends; a closed one at once; the waiting request holds no database connection. The
wake-up by PostgreSQL NOTIFY (migration 0025) is tested with a real listener and a sign-off
committed by another connection."""

import threading
import time
import uuid

import pytest
from django.db import connection

from decisions import selectors
from decisions.lifecycle import waiting
from decisions.models import DecisionStatus
from tests.decisions.scenarios import approve

QUERIES_OF_A_READ = 8  # key, throttle and the decision with its details


@pytest.fixture(autouse=True)
def waiters(monkeypatch):
    """This test's own waiters (and listener, stopped afterwards: the test database is dropped)."""
    mine = waiting.Waiters()
    monkeypatch.setattr(waiting, "WAITERS", mine)
    yield mine
    mine.stop()


def url(decision, wait) -> str:
    return f"/api/v1/decisions/{decision.public_id}/?wait={wait}"


@pytest.mark.django_db
@pytest.mark.parametrize("wait", ["0", "61", "-1", "1.5", "abc", "", "٣"])
def test_a_wait_outside_one_to_sixty_whole_seconds_is_a_400(api_client, decision, wait):
    response = api_client.get(url(decision, wait))

    assert response.status_code == 400
    assert response.json()["errors"]["wait"] == ["Give a whole number of seconds from 1 to 60."]


@pytest.mark.django_db
def test_a_closed_decision_is_answered_at_once(api_client, decision, signer):
    approve(decision, signer)
    started = time.monotonic()

    response = api_client.get(url(decision, 30))

    assert time.monotonic() - started < 2
    assert response.status_code == 200
    assert response.json()["status"] == DecisionStatus.APPROVED


@pytest.mark.django_db
def test_a_wait_on_a_closed_decision_costs_no_more_queries_than_a_plain_read(
    api_client, decision, signer, django_assert_num_queries
):
    approve(decision, signer)
    api_client.get(f"/api/v1/decisions/{decision.public_id}/")  # warms the key's last-use stamp
    with django_assert_num_queries(QUERIES_OF_A_READ):
        plain = api_client.get(f"/api/v1/decisions/{decision.public_id}/")
    with django_assert_num_queries(QUERIES_OF_A_READ):
        waited = api_client.get(url(decision, 5))

    assert waited.json() == plain.json()


@pytest.mark.django_db
def test_each_re_check_of_a_waiter_is_one_query(decision, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert selectors.decision_is_pending(pk=decision.pk)


@pytest.mark.django_db
def test_a_pending_decision_that_stays_pending_is_answered_when_the_wait_ends(api_client, decision):
    started = time.monotonic()

    response = api_client.get(url(decision, 1))

    assert 1 <= time.monotonic() - started < 3
    assert response.status_code == 200
    assert response.json()["status"] == DecisionStatus.PENDING
    assert "Retry-After" not in response


@pytest.mark.django_db
def test_a_process_holding_its_share_of_waits_answers_at_once_with_retry_after(api_client, decision, settings):
    settings.LONGPOLL_MAX_WAITERS = 0
    started = time.monotonic()

    response = api_client.get(url(decision, 30))

    assert time.monotonic() - started < 2
    assert response.json()["status"] == DecisionStatus.PENDING
    assert response["Retry-After"] == "1"


@pytest.mark.django_db(transaction=True)
def test_a_waiting_request_answers_as_soon_as_a_person_signs(api_client, decision, signer):
    def sign_soon():
        time.sleep(1.0)
        try:
            approve(decision, signer)
        finally:
            connection.close()

    signing = threading.Thread(target=sign_soon)
    signing.start()
    started = time.monotonic()

    response = api_client.get(url(decision, 30))
    signing.join()

    assert time.monotonic() - started < 5
    assert response.json()["status"] == DecisionStatus.APPROVED


def backends_of_this_database() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_waiting_requests_hold_no_database_connection(api_client, decision, monkeypatch):
    monkeypatch.setattr(waiting, "WAITERS", waiting.Waiters(listen=False))
    monkeypatch.setattr(waiting, "POLL_SECONDS", 30.0)
    before = backends_of_this_database()
    answers = []
    requests = [threading.Thread(target=lambda: answers.append(api_client.get(url(decision, 3)))) for _ in range(5)]
    for request in requests:
        request.start()
    time.sleep(1.5)  # every one of them is waiting now

    during = backends_of_this_database()
    for request in requests:
        request.join()

    assert waiting.WAITERS.count == 0
    assert during == before
    assert [a.json()["status"] for a in answers] == [DecisionStatus.PENDING] * 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_listener_wakes_a_waiter_when_the_status_change_commits(decision, signer, monkeypatch, waiters):
    monkeypatch.setattr(waiting, "RECHECK_SECONDS", 60.0)  # only a notification can wake it in time
    reads = []

    def is_pending():
        reads.append(time.monotonic())
        return decision.__class__.objects.filter(pk=decision.pk, status=DecisionStatus.PENDING).exists()

    def sign_once_listening():
        assert waiters.listening.wait(10)
        time.sleep(0.5)
        try:
            approve(decision, signer)
        finally:
            connection.close()

    signing = threading.Thread(target=sign_once_listening)
    signing.start()
    started = time.monotonic()

    admitted = waiting.wait_while_pending(
        public_id=decision.public_id, seconds=30, is_pending=is_pending, waiters=waiters
    )
    signing.join()

    assert admitted
    assert time.monotonic() - started < 10
    assert len(reads) <= 4  # first read, the wake on LISTEN, the notification (and one spare)


@pytest.mark.django_db
def test_a_notification_for_another_decision_wakes_nobody_else():
    waiters = waiting.Waiters(listen=False)
    mine, other = uuid.uuid4(), uuid.uuid4()
    with waiters.admit(mine) as event:
        waiters.wake(other)
        assert not event.is_set()
        waiters.wake(mine)
        assert event.is_set()
    assert waiters.count == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_verdict_given_while_the_listener_was_cut_off_still_wakes_the_waiter(decision, signer, monkeypatch, waiters):
    monkeypatch.setattr(waiting, "RECHECK_SECONDS", 60.0)
    monkeypatch.setattr(waiting, "RECONNECT_SECONDS", 0.2)
    answered = []

    def wait():
        try:
            waiting.wait_while_pending(
                public_id=decision.public_id,
                seconds=30,
                is_pending=lambda: decision.__class__.objects.filter(pk=decision.pk, status="pending").exists(),
                waiters=waiters,
            )
            answered.append(time.monotonic())
        finally:
            connection.close()

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert waiters.listening.wait(10)
    with connection.cursor() as cursor:  # cut the listener off, then decide while it is away
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query IN (%s, 'SELECT 1')",
            [f"LISTEN {waiting.CHANNEL}"],
        )
        assert cursor.fetchone() is not None
    approve(decision, signer)
    decided = time.monotonic()
    waiter.join(timeout=20)

    assert answered
    assert answered[0] - decided < 5
    assert waiters.listening.wait(10)  # and it listens again
