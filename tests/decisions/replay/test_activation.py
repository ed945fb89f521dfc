"""Activating a draft: one audited step with a reason, keeping the replay it was made on."""

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError

from decisions.models import DraftStatus, PolicyDraft
from decisions.replay import services
from governance import rbac
from governance import services as governance_services
from governance.models import ApprovalPolicy
from tests.decisions.factories import submit
from tests.decisions.replay.history import make_draft, make_history
from tests.governance.factories import make_user_in_group
from tests.helpers import run_concurrently

pytestmark = pytest.mark.django_db


def _entries(model, pk):
    return LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model), object_pk=str(pk))


def test_activation_needs_a_reason(history, draft_of):
    draft = draft_of(history.isolate_policy, required_approvals=2)

    with pytest.raises(ValidationError, match="reason"):
        services.policy_draft_activate(draft=draft, actor=history.lead, reason="  ", period=history.period)

    draft.refresh_from_db()
    history.isolate_policy.refresh_from_db()
    assert draft.status == DraftStatus.DRAFT
    assert history.isolate_policy.required_approvals == 1


def test_activation_changes_the_policy_audited_with_the_reason_and_keeps_the_report(history, draft_of):
    draft = draft_of(history.enrich_policy, allow_auto_approval=True)
    version = history.enrich_policy.version

    services.policy_draft_activate(
        draft=draft, actor=history.lead, reason="Enrichment is harmless", ticket_ref="CHG-7", period=history.period
    )

    draft.refresh_from_db()
    policy = ApprovalPolicy.objects.get(pk=history.enrich_policy.pk)
    assert policy.allow_auto_approval is True
    assert policy.version == version + 1
    assert draft.status == DraftStatus.ACTIVATED
    assert (draft.activated_by, draft.activation_reason, draft.activation_ticket_ref) == (
        history.lead,
        "Enrichment is harmless",
        "CHG-7",
    )
    assert draft.activated_policy == policy
    assert draft.activated_version == policy.version
    assert draft.replay_report["parameters"]["period"] == history.period.as_dict()
    assert draft.replay_report["parameters"]["draft"]["id"] == str(draft.public_id)
    assert draft.replay_report["summary"]["auto_over_rejection"] == 1
    assert draft.replay_report["summary"]["changed"] == 2
    policy_entry = _entries(ApprovalPolicy, policy.pk).latest("timestamp")
    assert policy_entry.actor == history.lead
    assert policy_entry.additional_data["reason"] == f"Activated draft {draft.public_id}: Enrichment is harmless"
    assert policy_entry.additional_data["ticket_ref"] == "CHG-7"
    draft_entry = _entries(PolicyDraft, draft.pk).latest("timestamp")
    assert draft_entry.actor == history.lead
    assert "status" in draft_entry.changes_dict
    # In force now: the next enrichment goes through without a person.
    assert submit(history.enrich).status == "auto_approved"


def test_a_new_policy_draft_creates_the_policy(history):
    draft = PolicyDraft(
        name="Two for isolation",
        priority=5,
        required_approvals=2,
        escalation_chain=history.isolate_policy.escalation_chain,
    )
    services.policy_draft_save(actor=history.lead, draft=draft, action_types=[history.isolate], cosigner_roles=[])

    services.policy_draft_activate(draft=draft, actor=history.lead, reason="Two-person rule", period=history.period)

    created = ApprovalPolicy.objects.get(name="Two for isolation")
    assert list(created.action_types.all()) == [history.isolate]
    assert created.required_approvals == 2
    assert submit(history.isolate).required_approvals == 2


@pytest.mark.parametrize("group", [rbac.AUDITOR, rbac.ANALYST])
def test_only_a_governance_lead_may_activate(history, draft_of, group):
    draft = draft_of(history.isolate_policy, required_approvals=2)

    with pytest.raises(PermissionDenied):
        services.policy_draft_activate(
            draft=draft, actor=make_user_in_group(group), reason="I think so", period=history.period
        )

    draft.refresh_from_db()
    assert draft.status == DraftStatus.DRAFT


def test_a_draft_is_activated_once_and_then_cannot_change(history, draft_of):
    draft = draft_of(history.isolate_policy, required_approvals=2)
    services.policy_draft_activate(draft=draft, actor=history.lead, reason="Two-person rule", period=history.period)

    with pytest.raises(ValidationError, match="already activated"):
        services.policy_draft_activate(draft=draft, actor=history.lead, reason="Again", period=history.period)
    draft.refresh_from_db()
    draft.required_approvals = 1
    with pytest.raises(ValidationError, match="cannot change"):
        services.policy_draft_save(actor=history.lead, draft=draft, action_types=[], cosigner_roles=[])


def test_a_draft_of_a_policy_changed_since_is_refused(history, draft_of):
    draft = draft_of(history.isolate_policy, required_approvals=2)
    policy = history.isolate_policy
    policy.time_to_act_seconds = 300
    governance_services.approval_policy_save(
        actor=history.lead,
        policy=policy,
        action_types=[history.isolate],
        cosigner_roles=[],
        reason="Faster",
        at=history.period.end,
    )

    with pytest.raises(ValidationError, match="changed since this draft started"):
        services.policy_draft_activate(draft=draft, actor=history.lead, reason="Two", period=history.period)
    policy.refresh_from_db()
    assert policy.required_approvals == 1


def test_a_draft_breaking_a_policy_rule_cannot_be_saved(history, draft_of):
    with pytest.raises(ValidationError, match="Auto-approval is only for system-owned"):
        draft_of(history.isolate_policy, allow_auto_approval=True)


def test_activation_refused_by_a_policy_rule_leaves_everything_as_it_was(history, draft_of):
    draft = draft_of(history.isolate_policy, required_approvals=2, priority=history.enrich_policy.priority)

    with pytest.raises(ValidationError):
        services.policy_draft_activate(draft=draft, actor=history.lead, reason="Clash", period=history.period)

    draft.refresh_from_db()
    assert draft.status == DraftStatus.DRAFT
    assert draft.replay_report is None


@pytest.mark.django_db(transaction=True)
def test_two_drafts_of_one_policy_activated_at_once_put_exactly_one_in_force():
    history = make_history()
    drafts = [
        make_draft(history, history.isolate_policy, required_approvals=2),
        make_draft(history, history.isolate_policy, time_to_act_seconds=120),
    ]

    outcomes = run_concurrently(
        lambda i: services.policy_draft_activate(
            draft=drafts[i], actor=history.lead, reason=f"Race {i}", period=history.period
        ),
        threads=2,
    )

    errors = [exc for _result, exc in outcomes if exc is not None]
    assert len(errors) == 1
    assert isinstance(errors[0], ValidationError)
    assert "changed since this draft started" in str(errors[0])
    assert PolicyDraft.objects.filter(status=DraftStatus.ACTIVATED).count() == 1
    assert ApprovalPolicy.objects.get(pk=history.isolate_policy.pk).version == history.isolate_policy.version + 1


@pytest.mark.django_db(transaction=True)
def test_one_draft_activated_twice_at_once_is_activated_once():
    history = make_history()
    draft = make_draft(history, history.isolate_policy, required_approvals=2)

    outcomes = run_concurrently(
        lambda i: services.policy_draft_activate(draft=draft, actor=history.lead, reason="Race", period=history.period),
        threads=2,
    )

    assert sum(exc is None for _result, exc in outcomes) == 1
    assert ApprovalPolicy.objects.get(pk=history.isolate_policy.pk).version == history.isolate_policy.version + 1
