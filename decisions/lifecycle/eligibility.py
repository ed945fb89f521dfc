"""Who may sign a decision now, and when enough have: segregation of duties, the grant, a
certification valid at this instant, and the quorum (distinct people matched onto the slots).

Reads only: the services call these under the decision's row lock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import Q

from decisions.actors import Person
from decisions.errors import CertificationExpired, DecisionClosed, NotAllowed, NotEligible, SegregationOfDuties
from decisions.models import (
    CERTIFY,
    DecisionRequest,
    DecisionRequestUserObjectPermission,
    Integration,
    SignOff,
    Verdict,
)
from governance import rbac
from governance.selectors import valid_certifications


class SigningRight(NamedTuple):
    """Why a person may sign now: the role the sign-off is recorded under, the certification
    that allows it, and every role they may sign as right now (for quorum matching)."""

    role_id: int
    certification_id: int
    eligible_role_ids: list[int]


def is_integration_account(user: Any) -> bool:
    """True for an integration's service account (or any member of the Integration group)."""
    if getattr(user, "is_integration_account", None) is not None:
        return user.is_integration_account
    return (
        Integration.objects.filter(service_account=user).exists() or user.groups.filter(name=rbac.INTEGRATION).exists()
    )


def _grant_roles(decision: DecisionRequest, user_id: int) -> list[tuple[int, int]]:
    """(role id, certification id) pairs under which ``user_id`` was made eligible, newest stage first."""
    return [(e["role_id"], e["certification_id"]) for e in decision.eligible_entries if e["user_id"] == user_id]


def owner_slot_roles(decision: DecisionRequest) -> set[int]:
    """Roles that can fill the owner's place: the owner, and every stage's role so far."""
    return {s["role"]["id"] for s in decision.snapshot.get("stages", []) if s.get("role")}


def cosigner_role_ids(decision: DecisionRequest) -> list[int]:
    return [r["id"] for r in decision.snapshot.get("cosigner_roles", [])]


def quorum_met(
    *,
    approvals: Sequence[tuple[int, int | set[int]]],
    required: int,
    owner_roles: set[int],
    cosigner_roles: list[int],
) -> bool:
    """Met when ``required`` distinct people approved and the approvals can be matched one to
    one onto the slots: the owner's place (any of ``owner_roles``) and each co-signer role.

    ``approvals`` are (user id, role or roles the person could sign as). A person eligible in
    two roles fills whichever slot makes the quorum possible, so signing first as the owner
    never strands a co-signer slot. A co-signer role that is also an owner role is filled by
    the owner's place.
    """
    held: dict[int, set[int]] = {}
    for user, roles in approvals:
        held.setdefault(user, set()).update(roles if isinstance(roles, set) else {roles})
    if len(held) < required:
        return False
    slots = ([owner_roles] if owner_roles else []) + [
        {role} for role in dict.fromkeys(cosigner_roles) if role not in owner_roles
    ]
    return _all_slots_filled(slots, held)


def _all_slots_filled(slots: list[set[int]], held: dict[int, set[int]]) -> bool:
    """Bipartite matching (augmenting paths) of slots to distinct people; sizes here are tiny."""
    taken_by: dict[int, int] = {}  # person -> slot index

    def place(slot: int, seen: set[int]) -> bool:
        for person, roles in held.items():
            if person in seen or not roles & slots[slot]:
                continue
            seen.add(person)
            if person not in taken_by or place(taken_by[person], seen):
                taken_by[person] = slot
                return True
        return False

    return all(place(index, set()) for index in range(len(slots)))


def require_submitting_integration(decision: DecisionRequest, integration: Integration) -> None:
    if decision.integration_id != integration.pk:
        raise NotAllowed("This decision belongs to another integration.")


def has_grant(decision: DecisionRequest, user: Person) -> bool:
    return DecisionRequestUserObjectPermission.objects.filter(
        content_object=decision, user=user, permission__codename=CERTIFY
    ).exists()


def require_person(actor: Any, decision: DecisionRequest, *, doing: str, doing_this: str | None = None) -> None:
    """Segregation of duties for a person's step on ``decision``: a signed-in active person,
    never an integration account, never the decision's submitter (``doing``: "sign decisions";
    ``doing_this``, for the submitter's refusal, defaults to ``doing``)."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise NotAllowed(f"Sign in to {doing}.")
    if is_integration_account(actor):
        raise SegregationOfDuties(f"Integration accounts never {doing}.")
    if decision.submitted_by_id == actor.pk:
        raise SegregationOfDuties(f"You submitted this decision, so you cannot {doing_this or doing}.")


def check_can_sign(decision: DecisionRequest, actor: Any, *, now: datetime) -> SigningRight:
    """Raise unless ``actor`` may sign ``decision`` now; else why they may (``SigningRight``).

    Segregation of duties first (integrations, the submitter), then the grant, then a
    certification valid at this instant (expiry is enforced at signing, not only at routing).
    """
    require_person(actor, decision, doing="sign decisions", doing_this="sign it")
    if decision.is_terminal:
        raise DecisionClosed(f"This decision is already {decision.get_status_display().lower()}.")
    roles = _grant_roles(decision, actor.pk)
    if not roles or not has_grant(decision, actor):
        raise NotEligible("You are not an eligible signer for this decision (not on call for its roles when routed).")
    taken = {role for _, roles in live_approvals(decision) for role in roles}
    ordered = sorted(dict.fromkeys(r for r, _ in roles), key=lambda role: role in taken)  # a missing role first
    valid = (
        valid_certifications(at=now)
        .filter(user=actor)
        .filter(Q(role_id__in=ordered) | Q(action_type=decision.action_type))
    )
    valid_roles = {c.role_id: c.pk for c in valid if c.role_id}
    action_cert = next((c.pk for c in valid if c.action_type_id == decision.action_type_id), None)
    candidates = [(role, valid_roles.get(role, action_cert)) for role in ordered]
    usable = [(role, cert) for role, cert in candidates if cert is not None]
    if not usable:
        raise CertificationExpired("Your certification for this role has expired or was revoked; you cannot sign.")
    role_id, cert_id = usable[0]
    return SigningRight(role_id=role_id, certification_id=cert_id, eligible_role_ids=[role for role, _ in usable])


def live_approvals(decision: DecisionRequest) -> list[tuple[int, set[int]]]:
    """(signer, roles they could sign as) for every approval that still counts."""
    rows = SignOff.objects.filter(
        decision=decision, voided_at__isnull=True, verdict__in=[Verdict.APPROVE, Verdict.OVERRIDE]
    ).values_list("signer_id", "signed_as_id", "eligible_role_ids")
    return [(signer, {signed_as, *(eligible or [])}) for signer, signed_as, eligible in rows]
