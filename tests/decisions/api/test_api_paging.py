"""Every list endpoint pages with a cursor and refuses paging parameters it cannot honour: a
``page_size`` outside 1..max or not an integer, a cursor the API did not hand out (garbage, an
offset beyond the cutoff, a forged position). The decision log and the sign-offs are pages too,
as the schema says, in a constant number of queries."""

from base64 import b64encode

import pytest

from decisions.lifecycle import cancellation, corrections
from decisions.models import DecisionEvent
from governance import rbac
from tests.decisions.scenarios import approve
from tests.governance.factories import make_user_in_group

pytestmark = pytest.mark.django_db

LIST = "/api/v1/decisions/"


def cursor(text: str) -> str:
    return b64encode(text.encode()).decode()


def events_url(decision) -> str:
    return f"{LIST}{decision.public_id}/events/"


def signoffs_url(decision) -> str:
    return f"{LIST}{decision.public_id}/signoffs/"


def walk(client, url: str) -> list[dict]:
    """Every result, following ``next`` links."""
    seen: list[dict] = []
    while url:
        page = client.get(url).json()
        seen += page["results"]
        url = page["next"]
    return seen


@pytest.fixture
def long_log(caller, decision):
    """``decision`` with a log of several events (payload corrections)."""
    for n in range(3):
        corrections.decision_update_payload(
            decision=decision,
            integration=caller.integration,
            actor=caller.integration.service_account,
            changes={"title": f"Isolate laptop-04{n}"},
        )
    return decision


# --- page_size ------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", ["100000", "501", "0", "-5", "abc", "", "1.5", "２"])
@pytest.mark.parametrize("endpoint", ["list", "events", "signoffs"])
def test_page_size_outside_its_range_or_not_an_integer_is_a_400(api_client, decision, page_size, endpoint):
    url = {"list": LIST, "events": events_url(decision), "signoffs": signoffs_url(decision)}[endpoint]

    response = api_client.get(url, {"page_size": page_size})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["page_size"]


@pytest.mark.parametrize("page_size", ["1", "200"])
def test_page_size_at_its_bounds_is_accepted(api_client, decision, page_size):
    response = api_client.get(LIST, {"page_size": page_size})

    assert response.status_code == 200


def test_the_log_allows_pages_of_500_events(api_client, decision):
    assert api_client.get(events_url(decision), {"page_size": 500}).status_code == 200
    assert api_client.get(events_url(decision), {"page_size": 501}).status_code == 400


# --- cursors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(cursor("o=100000"), id="huge-offset"),
        pytest.param(cursor("o=1001"), id="offset-beyond-the-cutoff"),
        pytest.param(cursor("o=-1"), id="negative-offset"),
        pytest.param(cursor("r=2"), id="reverse-not-a-flag"),
        pytest.param(cursor("p=yesterday"), id="position-not-a-time"),
        pytest.param(cursor("p=2026-11-26 09:00:00"), id="naive-position"),
        pytest.param(cursor("p=2026-11-26 09:00:00+00:00&p=2026-11-27 09:00:00+00:00"), id="position-twice"),
        pytest.param(cursor("x=1"), id="unknown-token"),
        pytest.param("not base64!", id="not-base64"),
        pytest.param(b64encode(b"p=\xff").decode(), id="not-ascii"),
    ],
)
def test_a_cursor_the_api_did_not_hand_out_is_a_400(api_client, decision, value):
    response = api_client.get(LIST, {"cursor": value})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]


@pytest.mark.parametrize("position", ["abc", "1e3", "-1", "9" * 30])
def test_a_forged_position_in_the_log_is_a_400_not_a_database_error(api_client, decision, position):
    response = api_client.get(events_url(decision), {"cursor": cursor(f"p={position}")})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]


def test_every_link_the_api_hands_out_is_accepted(api_client, long_log):
    first = api_client.get(events_url(long_log), {"page_size": 2}).json()
    second = api_client.get(first["next"])
    previous = api_client.get(second.json()["previous"])

    assert (second.status_code, previous.status_code) == (200, 200)
    assert previous.json()["results"] == first["results"]


# --- the log and the sign-offs are pages ----------------------------------------------------


def test_the_log_is_a_page_of_events_oldest_first(api_client, long_log):
    body = api_client.get(events_url(long_log)).json()

    assert set(body) == {"next", "previous", "results"}
    assert [e["seq"] for e in body["results"]] == sorted(
        DecisionEvent.objects.filter(decision=long_log).values_list("seq", flat=True)
    )


def test_log_pages_cover_every_event_once(api_client, long_log):
    seen = walk(api_client, f"{events_url(long_log)}?page_size=2")

    assert [e["seq"] for e in seen] == list(
        DecisionEvent.objects.filter(decision=long_log).order_by("seq").values_list("seq", flat=True)
    )


def test_the_sign_offs_are_a_page(api_client, make_staffed, make_caller, make_decision):
    staffed = make_staffed(people=3, required_approvals=3)
    caller = make_caller(action_types=[staffed.action_type])
    decision = make_decision(caller.integration, staffed.action_type)
    for person in staffed.signers:
        approve(decision, person)

    body = caller.client.get(signoffs_url(decision), {"page_size": 2}).json()
    seen = walk(caller.client, f"{signoffs_url(decision)}?page_size=2")

    assert (len(body["results"]), body["next"] is not None) == (2, True)
    assert sorted(s["signer"] for s in seen) == sorted(p.username for p in staffed.signers)


# --- queries --------------------------------------------------------------------------------

THROTTLE_QUERIES = 6
# Key lookup (with integration and service account), last_used_at, throttle, the decision, one page.
DETAIL_PAGE_QUERIES = 2 + THROTTLE_QUERIES + 2


@pytest.mark.parametrize("signers", [1, 3])
def test_sign_offs_endpoint_runs_a_constant_number_of_queries(
    make_staffed, make_caller, make_decision, key_client, django_assert_num_queries, signers
):
    staffed = make_staffed(people=signers, required_approvals=signers)
    caller = make_caller(action_types=[staffed.action_type])
    decision = make_decision(caller.integration, staffed.action_type)
    for person in staffed.signers:
        approve(decision, person)
    client = key_client(caller.key)

    with django_assert_num_queries(DETAIL_PAGE_QUERIES):
        response = client.get(signoffs_url(decision))

    assert len(response.json()["results"]) == signers


@pytest.mark.parametrize("corrected", [0, 3])
def test_a_page_of_the_log_after_the_first_runs_the_same_queries(
    caller, decision, key_client, django_assert_num_queries, corrected
):
    for n in range(corrected):
        corrections.decision_update_payload(
            decision=decision,
            integration=caller.integration,
            actor=caller.integration.service_account,
            changes={"title": f"t{n}"},
        )
    cancellation.decision_cancel(
        decision=decision, integration=caller.integration, actor=caller.integration.service_account
    )
    client = key_client(caller.key)
    next_url = client.get(events_url(decision), {"page_size": 2}).json()["next"]

    with django_assert_num_queries(DETAIL_PAGE_QUERIES - 1):  # last_used_at was written a moment ago
        response = client.get(next_url)

    assert response.status_code == 200


def test_review_reports_refuse_a_page_size_over_their_maximum(person_client):
    client = person_client(make_user_in_group(rbac.GOVERNANCE_LEAD))

    response = client.get("/api/v1/review/reports/", {"page_size": 201})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["page_size"]
