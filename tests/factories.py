"""factory_boy factories for the governance model (and users)."""

import itertools
import threading
from datetime import date, time, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import factory
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from decisions import integrations
from decisions.lifecycle import intake
from governance import models as m
from governance import rbac


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            if Group.objects.filter(name__in=extracted).count() < len(extracted):
                rbac.ensure_groups(django_apps)  # a transactional test flushed the migration's rows
            self.groups.add(*Group.objects.filter(name__in=extracted))


class DecisionRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.DecisionRole
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"role-{n}")
    name = factory.Sequence(lambda n: f"Role {n}")


class ActionTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ActionType
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"action-{n}")
    name = factory.Sequence(lambda n: f"Action {n}")
    changes_production_state = True
    touches_regulated_data = False
    system_owned = False

    class Params:
        automation = factory.Trait(changes_production_state=False, touches_regulated_data=False, system_owned=True)


class OwnershipAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.OwnershipAssignment

    action_type = factory.SubFactory(ActionTypeFactory)
    owner_role = factory.SubFactory(DecisionRoleFactory)
    deputy_role = None
    effective_from = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    effective_to = None


class RosterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Roster
        skip_postgeneration_save = True

    role = factory.SubFactory(DecisionRoleFactory)
    name = factory.Sequence(lambda n: f"Roster {n}")
    time_zone = "UTC"
    rotation_days = 7
    handoff_time = time(9, 0)
    rotation_start = date(2026, 1, 5)
    coverage_start = None
    coverage_end = None

    @factory.post_generation
    def users(self, create, extracted, **kwargs):
        """``RosterFactory(users=[a, b])`` adds members in that rotation order."""
        if create and extracted:
            for position, user in enumerate(extracted):
                m.RosterMember.objects.create(roster=self, user=user, position=position)


class RosterMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.RosterMember

    roster = factory.SubFactory(RosterFactory)
    user = factory.SubFactory(UserFactory)
    position = factory.Sequence(lambda n: n)


class RosterOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.RosterOverride

    roster = factory.SubFactory(RosterFactory)
    user = factory.SubFactory(UserFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=8))


class CertificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Certification

    user = factory.SubFactory(UserFactory)
    role = factory.SubFactory(DecisionRoleFactory)
    action_type = None
    valid_from = factory.LazyFunction(lambda: timezone.now() - timedelta(days=100))
    valid_until = factory.LazyFunction(lambda: timezone.now() + timedelta(days=265))


class EscalationChainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.EscalationChain
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Chain {n}")
    final_outcome = m.EscalationChain.FinalOutcome.EXPIRE

    @factory.post_generation
    def steps(self, create, extracted, **kwargs):
        """``EscalationChainFactory(steps=[(role, 600), ...])``; one step by default."""
        if not create:
            return
        for position, (role, wait) in enumerate(extracted or [(DecisionRoleFactory(), 600)]):
            m.EscalationStep.objects.create(chain=self, position=position, role=role, wait_seconds=wait)


class ApprovalPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ApprovalPolicy
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Policy {n}")
    priority = factory.Sequence(lambda n: 100 + n)
    required_approvals = 1
    time_to_act_seconds = 900
    escalation_chain = factory.SubFactory(EscalationChainFactory)

    @factory.post_generation
    def action_types(self, create, extracted, **kwargs):
        if create and extracted:
            self.action_types.set(extracted)

    @factory.post_generation
    def cosigner_roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.cosigner_roles.set(extracted)


def make_owned_action_type(*, members=2, certified=True, **action_kwargs):
    """An action type owned by a role whose weekly roster has ``members`` people, all certified."""
    role = DecisionRoleFactory()
    users = [UserFactory() for _ in range(members)]
    roster = RosterFactory(role=role, users=users)
    action_type = ActionTypeFactory(**action_kwargs)
    OwnershipAssignmentFactory(action_type=action_type, owner_role=role)
    if certified:
        for user in users:
            CertificationFactory(user=user, role=role)
    return action_type, role, roster, users


def make_user_in_group(group: str, *, is_staff: bool = True, **kwargs):
    """A user in one of the role groups that migration 0003 creates (see ``governance.rbac``)."""
    return UserFactory(groups=[group], is_staff=is_staff, **kwargs)


class _AdminFormParser(HTMLParser):
    """Collects what a browser would submit from the admin's change form (``<form id="*_form">``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.data: list[tuple[str, str]] = []
        self._in_form = False
        self._select: tuple[str, bool] | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._in_form = (a.get("id") or "").endswith("_form")
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self._add(name, a.get("value") or ("on" if kind in {"checkbox", "radio"} else ""))
        elif tag == "select" and name:
            self._select, self._options = (name, "multiple" in a), []
        elif tag == "option" and self._select:
            self._options.append((a.get("value") or "", "selected" in a))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select" and self._select:
            name, multiple = self._select
            chosen = [value for value, selected in self._options if selected]
            if not chosen and not multiple and self._options:
                chosen = [self._options[0][0]]
            for value in chosen:
                self._add(name, value)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._add(self._textarea, "".join(self._text).removeprefix("\n"))
            self._textarea = None

    def _add(self, name: str, value: str) -> None:
        if "__prefix__" not in name:
            self.data.append((name, value))


def admin_form_data(response, **changes) -> dict:
    """The POST data a browser would send from an admin add/change page, with ``changes`` applied.

    Multi-valued fields (``filter_horizontal``) come back as lists. A change whose value is None
    removes the field, as an unticked checkbox does.
    """
    parser = _AdminFormParser()
    parser.feed(response.content.decode())
    data: dict = {}
    for name, value in parser.data:
        if name in data:
            data[name] = [*data[name], value] if isinstance(data[name], list) else [data[name], value]
        else:
            data[name] = value
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def make_role_with_members(*, members=1, users=None, **role_kwargs):
    """A role whose roster has ``members`` fresh people (or exactly ``users``, in that order)."""
    role = DecisionRoleFactory(**role_kwargs)
    users = list(users) if users is not None else [UserFactory() for _ in range(members)]
    RosterFactory(role=role, users=users)
    return role, users


def run_concurrently(fn, *, threads):
    """Call ``fn(index)`` in ``threads`` real threads released at the same instant.

    Returns one ``(result, exception)`` pair per thread, in index order. Each thread closes its
    own database connection, so this needs ``django_db(transaction=True)``.
    """
    barrier = threading.Barrier(threads)
    outcomes = [(None, None)] * threads

    def work(index):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = (fn(index), None)
        except Exception as exc:  # noqa: BLE001 - handed back to the test to judge
            outcomes[index] = (None, exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert not any(w.is_alive() for w in workers), "a thread is still running (deadlock?)"
    return outcomes


# --- decisions ---------------------------------------------------------------------------


def make_signers(role, count=1, *, certified=True):
    """``count`` people each alone on a roster of ``role`` (so all of them are on call now),
    certified for ``role`` unless ``certified=False``."""
    people = [UserFactory() for _ in range(count)]
    for user in people:
        RosterFactory(role=role, users=[user])
        if certified:
            CertificationFactory(user=user, role=role)
    return people


_integration_numbers = itertools.count(1)


def make_integration(*action_types, name=None):
    """An integration (with its service account) allowed to submit ``action_types``."""
    if not Group.objects.filter(name=rbac.INTEGRATION).exists():
        rbac.ensure_groups(django_apps)  # a transactional test flushed the migration's rows
    return integrations.integration_create(
        actor=None,
        name=name or f"Integration {next(_integration_numbers)}",
        team_contact="soc-automation@example.test",
        allowed_action_types=list(action_types),
    )


def decision_data(action_type, **fields):
    """The model fields of a plausible submission, ``fields`` applied on top."""
    return {
        "action_type": action_type,
        "title": "Isolate laptop FIN-042",
        "recommendation": "Isolate the host: beaconing to a known C2 domain.",
        "target": {"host": "fin-042.corp.example"},
        "ai_confidence": Decimal("0.910"),
        "blast_radius": m.Level.MEDIUM,
        "severity": m.Level.HIGH,
        "model_name": "triage-agent",
        "model_version": "2026.11",
        "evidence": {"alerts": ["EDR-1"]},
        **fields,
    }


def submit(action_type, *, integration=None, actor=None, now=None, idempotency_key="", **fields):
    """Submit a decision through ``decision_submit`` (and so route it); returns the decision."""
    integration = integration or make_integration(action_type)
    data = decision_data(action_type, **fields)
    decision, _created = intake.decision_submit(
        integration=integration,
        actor=actor or integration.service_account,
        data=data,
        request_fingerprint=intake.fingerprint({k: str(v) for k, v in data.items()}),
        idempotency_key=idempotency_key,
        now=now,
    )
    return decision


def make_staffed_action_type(*, signers=1, certified=True, **action_kwargs):
    """An action type owned by a fresh role with ``signers`` people on call for it right now."""
    role = DecisionRoleFactory()
    action_type = ActionTypeFactory(**action_kwargs)
    OwnershipAssignmentFactory(action_type=action_type, owner_role=role)
    return action_type, role, make_signers(role, signers, certified=certified)


_past_titles = itertools.count(1)


def make_past_decision(
    integration, action_type, *, created, status="approved", minutes=10.0, model=("triage-agent", "2026.11"), **fields
):
    """A decision row as it stands after the fact (no routing): submitted at ``created``,
    decided ``minutes`` later unless pending. For figures computed over history."""
    from decisions.models import DecisionRequest, DecisionStatus

    decision = DecisionRequest.objects.create(
        integration=integration,
        submitted_by=integration.service_account,
        request_fingerprint="f",
        action_type=action_type,
        title=f"Decision {next(_past_titles)}",
        recommendation="r",
        ai_confidence=Decimal("0.8"),
        blast_radius=m.Level.MEDIUM,
        severity=m.Level.HIGH,
        model_name=model[0],
        model_version=model[1],
        status=status,
        deadline=created + timedelta(hours=1),
        decided_at=None if status == DecisionStatus.PENDING else created + timedelta(minutes=minutes),
        **fields,
    )
    DecisionRequest.objects.filter(pk=decision.pk).update(created_at=created)  # auto_now_add: set the past
    decision.created_at = created
    return decision


def make_signoff(decision, signer, role, verdict="approve", reason="evidence_sufficient", *, after_minutes=None):
    """A live sign-off row on ``decision`` (no service rules), ``after_minutes`` after submission if given."""
    from decisions.models import SignOff, Verdict

    signoff = SignOff.objects.create(
        decision=decision,
        signer=signer,
        signed_as=role,
        verdict=verdict,
        reason_code=reason,
        rationale="because",
        override_action={"scope": "outbound only"} if verdict == Verdict.OVERRIDE else None,
        step=0,
        payload_version=1,
        certification_id_at_signing=1,
    )
    if after_minutes is not None:
        SignOff.objects.filter(pk=signoff.pk).update(created_at=decision.created_at + timedelta(minutes=after_minutes))
    return signoff
