"""The draft's admin pages: drafting from a policy, the Replay page, and activation with a reason."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from decisions.models import DraftStatus, PolicyDraft
from governance import rbac
from governance.models import ApprovalPolicy
from tests.decisions.factories import submit
from tests.governance.factories import make_user_in_group
from tests.helpers import admin_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(draft_of, history):
    return draft_of(history.enrich_policy, allow_auto_approval=True)


def replay_url(draft, query="days=7"):
    return reverse("admin:decisions_policydraft_replay", args=[draft.pk]) + f"?{query}"


def activate_url(draft):
    return reverse("admin:decisions_policydraft_activate", args=[draft.pk])


def test_lead_drafts_a_change_starting_from_the_policy(client, history):
    client.force_login(history.lead)
    url = reverse("admin:decisions_policydraft_add") + f"?policy={history.isolate_policy.pk}"

    page = client.get(url)
    data = admin_form_data(page, required_approvals="2")
    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    draft = PolicyDraft.objects.get()
    assert (draft.policy, draft.name, draft.required_approvals) == (history.isolate_policy, "Isolation", 2)
    assert draft.base_version == history.isolate_policy.version
    assert list(draft.action_types.all()) == [history.isolate]
    assert ApprovalPolicy.objects.get(pk=history.isolate_policy.pk).required_approvals == 1


def test_replay_page_lists_the_auto_approval_over_a_rejection_first(client, history, draft):
    client.force_login(history.lead)

    response = client.get(replay_url(draft))

    assert response.status_code == 200
    rows = response.context["result"].rows
    assert rows[0]["title"] == "Enrich rejected"
    assert response.context["result"].summary["auto_over_rejection"] == 1
    html = response.content.decode()
    assert "Would be auto-approved, a person rejected" in html
    assert "Auto-approval over a rejection" in html
    assert "Activate this draft with this replay" in html


def test_replay_page_query_count_does_not_grow_with_decisions(client, history, draft, django_assert_num_queries):
    client.force_login(history.lead)
    client.get(replay_url(draft))
    with django_assert_num_queries(17) as one:
        client.get(replay_url(draft))
    for _ in range(8):
        submit(history.isolate, title="More history")
    with django_assert_num_queries(len(one.captured_queries)):
        assert client.get(replay_url(draft)).status_code == 200


def test_an_invalid_period_is_shown_not_a_server_error(client, history, draft):
    client.force_login(history.lead)

    response = client.get(replay_url(draft, "start=2026-02-01&end=2026-01-01"))

    assert response.status_code == 200
    assert response.context["result"] is None
    assert "The end date must not be before the start date." in response.content.decode()


def test_auditor_reads_the_replay_but_cannot_activate(client, history, draft):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    assert client.get(replay_url(draft)).status_code == 200
    assert "Activate this draft" not in client.get(replay_url(draft)).content.decode()
    assert client.post(activate_url(draft), {"change_reason": "x", "days": "7"}).status_code == 403
    draft.refresh_from_db()
    assert draft.status == DraftStatus.DRAFT


def test_analyst_cannot_reach_the_replay(client, history, draft):
    client.force_login(make_user_in_group(rbac.ANALYST))

    response = client.get(replay_url(draft))

    assert response.status_code in (302, 403)
    assert "result" not in (response.context or {})


def test_activation_without_a_reason_is_refused_on_the_form(client, history, draft):
    client.force_login(history.lead)

    response = client.post(activate_url(draft), {"change_reason": "", "days": "7"})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == DraftStatus.DRAFT


def test_activation_in_the_admin_is_audited_and_keeps_the_report(client, history, draft):
    client.force_login(history.lead)

    response = client.post(
        activate_url(draft), {"change_reason": "Enrichment is harmless", "ticket_ref": "CHG-9", "days": "7"}
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == DraftStatus.ACTIVATED
    assert draft.replay_report["summary"]["auto_over_rejection"] == 1
    entry = LogEntry.objects.get_for_object(history.enrich_policy).latest("timestamp")
    assert entry.actor == history.lead
    assert entry.additional_data["reason"].endswith("Enrichment is harmless")
    assert entry.additional_data["ticket_ref"] == "CHG-9"
    change_page = client.get(reverse("admin:decisions_policydraft_change", args=[draft.pk])).content.decode()
    assert "auto-approved that a person rejected" in change_page
    assert ">Activate<" not in change_page


def test_a_policys_page_links_to_drafting_a_change(client, history):
    client.force_login(history.lead)

    page = client.get(reverse("admin:governance_approvalpolicy_change", args=[history.isolate_policy.pk]))

    assert (
        f'href="{reverse("admin:decisions_policydraft_add")}?policy={history.isolate_policy.pk}"'
        in page.content.decode()
    )


def test_draft_changelist_query_count_does_not_grow_with_drafts(
    client, history, draft, draft_of, django_assert_num_queries
):
    client.force_login(history.lead)
    url = reverse("admin:decisions_policydraft_changelist")
    client.get(url)
    with django_assert_num_queries(8) as one:  # session, user, the drafts (with policy and author), counts
        assert client.get(url).status_code == 200
    for _ in range(4):
        draft_of(history.isolate_policy, required_approvals=2)
    with django_assert_num_queries(len(one.captured_queries)):
        assert client.get(url).status_code == 200
