"""A small history to replay: a system-owned enrichment and a human-owned isolation, each under
its own live policy, decided by people through the sign-off service."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from decisions.models import DecisionRequest
from decisions.replay import services
from decisions.review.figures import Period
from governance import rbac
from tests.decisions.factories import make_integration, submit
from tests.decisions.scenarios import approve, reject
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type, make_user_in_group
from tests.helpers import force_update


@dataclass
class History:
    enrich: object
    isolate: object
    enrich_policy: object
    isolate_policy: object
    enrich_rejected: object
    enrich_approved: object
    isolate_approved: object
    isolate_rejected: object
    lead: object
    period: Period

    @property
    def decisions(self) -> list:
        return [self.enrich_rejected, self.enrich_approved, self.isolate_approved, self.isolate_rejected]


def _took(decision, minutes: float) -> None:
    """Record that the verdict came ``minutes`` after submission."""
    decision.refresh_from_db()
    force_update(
        DecisionRequest.objects.filter(pk=decision.pk), decided_at=decision.created_at + timedelta(minutes=minutes)
    )


def make_history() -> History:
    enrich, _er, enrichers = make_staffed_action_type(
        signers=2, slug="enrich-ticket", changes_production_state=False, system_owned=True
    )
    isolate, _ir, isolators = make_staffed_action_type(signers=2, slug="isolate-host")
    enrich_policy = ApprovalPolicyFactory(name="Enrichment", action_types=[enrich], priority=10)
    isolate_policy = ApprovalPolicyFactory(name="Isolation", action_types=[isolate], priority=20)
    integration = make_integration(enrich, isolate)
    started = timezone.now()
    enrich_rejected = submit(enrich, integration=integration, title="Enrich rejected")
    reject(enrich_rejected, enrichers[0])
    enrich_approved = submit(enrich, integration=integration, title="Enrich approved")
    approve(enrich_approved, enrichers[0])
    isolate_approved = submit(isolate, integration=integration, title="Isolate approved")
    approve(isolate_approved, isolators[0])
    isolate_rejected = submit(isolate, integration=integration, title="Isolate rejected")
    reject(isolate_rejected, isolators[1])
    for decision, minutes in (
        (enrich_rejected, 10),
        (enrich_approved, 20),
        (isolate_approved, 30),
        (isolate_rejected, 40),
    ):
        _took(decision, minutes)
    return History(
        enrich=enrich,
        isolate=isolate,
        enrich_policy=enrich_policy,
        isolate_policy=isolate_policy,
        enrich_rejected=enrich_rejected,
        enrich_approved=enrich_approved,
        isolate_approved=isolate_approved,
        isolate_rejected=isolate_rejected,
        lead=make_user_in_group(rbac.GOVERNANCE_LEAD),
        period=Period(start=started - timedelta(hours=1), end=timezone.now() + timedelta(minutes=1)),
    )


def make_draft(history: History, policy, *, action_types=None, cosigner_roles=None, **changes):
    """A saved draft of ``policy`` (by the history's lead) with ``changes`` applied."""
    draft = services.policy_draft_from(actor=history.lead, policy=policy)
    for name, value in changes.items():
        setattr(draft, name, value)
    return services.policy_draft_save(
        actor=history.lead,
        draft=draft,
        action_types=list(draft.action_types.all()) if action_types is None else action_types,
        cosigner_roles=list(draft.cosigner_roles.all()) if cosigner_roles is None else cosigner_roles,
    )
