"""factory_boy factories for the governance model (and users), and the scenarios built from
them: staffed roles and action types."""

from datetime import date, time, timedelta

import factory
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from governance import models as m
from governance import rbac, swaps


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


def make_role_with_members(*, members=1, users=None, **role_kwargs):
    """A role whose roster has ``members`` fresh people (or exactly ``users``, in that order)."""
    role = DecisionRoleFactory(**role_kwargs)
    users = list(users) if users is not None else [UserFactory() for _ in range(members)]
    RosterFactory(role=role, users=users)
    return role, users


def make_signers(role, count=1, *, certified=True):
    """``count`` people each alone on a roster of ``role`` (so all of them are on call now),
    certified for ``role`` unless ``certified=False``."""
    people = [UserFactory() for _ in range(count)]
    for user in people:
        RosterFactory(role=role, users=[user])
        if certified:
            CertificationFactory(user=user, role=role)
    return people


def make_staffed_action_type(*, signers=1, certified=True, **action_kwargs):
    """An action type owned by a fresh role with ``signers`` people on call for it right now."""
    role = DecisionRoleFactory()
    action_type = ActionTypeFactory(**action_kwargs)
    OwnershipAssignmentFactory(action_type=action_type, owner_role=role)
    return action_type, role, make_signers(role, signers, certified=certified)


def make_daily_rota(names=("Ada", "Ben", "Cy"), *, lead_approval=False):
    """A daily roster (hand-off at 09:00) of certified people with these first names, for a role
    that owns an action type: (roster, people)."""
    role = DecisionRoleFactory(name="Tier-3 Analyst")
    OwnershipAssignmentFactory(action_type=ActionTypeFactory(), owner_role=role)
    people = [UserFactory(first_name=name, last_name="Test") for name in names]
    roster = RosterFactory(
        role=role, name="Tier-3 daily", users=people, rotation_days=1, handoff_time=time(9, 0),
        rotation_start=date(2026, 1, 1), swaps_need_lead_approval=lead_approval,
    )  # fmt: skip
    for person in people:
        CertificationFactory(user=person, role=role)
    return roster, people


def shifts_of(roster, user):
    """``user``'s shifts on ``roster`` from now (``governance.swaps.roster_schedule``)."""
    return swaps.roster_schedule(public_id=roster.public_id, at=timezone.now()).shifts_of(user)
