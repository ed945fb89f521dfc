"""Who signs a simulated decision, and when: the verdict drawn for it played out by people on
call and certified at the moment they sign, distinct people up to the policy's quorum (checked
by ``eligibility.quorum_met``), or the chain's final outcome when no quorum can be reached in
time."""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypeAlias

from decisions.lifecycle.eligibility import quorum_met
from decisions.models import DecisionStatus, Verdict
from decisions.seeding.history.records import Cosigners, Stage, step_at
from decisions.seeding.history.tables import RATIONALES, REASON_WEIGHTS, slowness
from decisions.seeding.history.world import still_held
from governance.models import EscalationChain
from governance.selectors import Signer

# Everyone who may sign at an instant: person -> role -> (signer, since when).
_People: TypeAlias = dict[int, dict[int, tuple[Signer, datetime]]]


class Verdicts:
    """Plays out the verdicts of the decisions, drawing from the simulation's random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def sign(
        self, verdict: str, decision: SimpleNamespace, stages: list[Stage], cosigners: Cosigners, final_at: datetime
    ) -> tuple[DecisionStatus, datetime, list[SimpleNamespace], bool]:
        """(status, closing instant, sign-offs in time order, whether the chain's final outcome
        closed it) for the verdict drawn; the final outcome when no quorum can be reached before it."""
        rng = self.rng
        created = decision.created_at
        window = (final_at - created).total_seconds()
        if window > 2 and verdict != "expire":
            elapsed = rng.lognormvariate(math.log(300 * slowness(created)), 1.05)
            if elapsed >= window - 1:
                elapsed = window * rng.uniform(0.5, 0.97)
            at = created + timedelta(seconds=max(elapsed, 1.0))
            if verdict == "cancel":
                return DecisionStatus.CANCELLED, at, [], False
            if verdict == "reject":
                found = self._reject(decision, stages, cosigners, at)
                if found is not None:
                    return DecisionStatus.REJECTED, at, found, False
            else:
                found = self._approve(decision, stages, cosigners, at, final_at, override=verdict == "override")
                if found is not None:
                    status = DecisionStatus.OVERRIDDEN if verdict == "override" else DecisionStatus.APPROVED
                    return status, found[-1].created_at, found, False
        return _final_outcome(decision), final_at, self._partial(decision, stages, cosigners, final_at), True

    def _available(self, stages: list[Stage], cosigners: Cosigners, at: datetime) -> tuple[int, _People]:
        """The stage current at ``at`` and everyone who may sign then: person -> role -> (signer, since).

        Only people whose certification still holds at ``at`` (the sign-off service checks it at
        signing): held when their stage opened and at ``at``, it holds at every instant between."""
        current = step_at(stages, at)
        people: _People = {}
        created = stages[0].start
        for role, signers in cosigners:
            for s in still_held(signers, at):
                people.setdefault(s.user.id, {}).setdefault(role.id, (s, created))
        for stage in stages[: current + 1]:
            for s in still_held(stage.signers, at):
                people.setdefault(s.user.id, {}).setdefault(s.role.id, (s, stage.start))
        return current, people

    def _signoff(
        self,
        decision: SimpleNamespace,
        stages: list[Stage],
        people: _People,
        user_pk: int,
        role_pk: int,
        verdict: Verdict,
        at: datetime,
        override: dict[str, Any] | None = None,
    ) -> SimpleNamespace:
        """The sign-off of ``user_pk`` as ``role_pk`` at ``at``, with a reason drawn for the verdict."""
        rng = self.rng
        signer, _since = people[user_pk][role_pk]
        codes, weights = zip(*REASON_WEIGHTS[verdict], strict=True)
        code = rng.choices(codes, weights=weights)[0]
        return SimpleNamespace(
            public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            signer_id=signer.user.id,
            signed_as_id=role_pk,
            eligible_role_ids=[
                role_pk,
                *sorted(r for r, (_, since) in people[user_pk].items() if r != role_pk and since <= at),
            ],
            verdict=verdict,
            reason_code=code.value,
            rationale=RATIONALES[code],
            override_action=override,
            step=step_at(stages, at),
            payload_version=decision.payload_version,
            certification_id_at_signing=signer.certification.id,
            auth_context={},  # simulated history: no sign-in to record ("not recorded" on the page)
            created_at=at,
        )

    def _quorum(
        self, decision: SimpleNamespace, stages: list[Stage], cosigners: Cosigners, at: datetime
    ) -> list[tuple[int, int]] | None:
        """(person, role) pairs that make the quorum at ``at``, the acting stage's signer first."""
        rng = self.rng
        current, people = self._available(stages, cosigners, at)
        acting = still_held(stages[current].signers, at) if current >= 0 else []
        if not acting:
            return None
        owner_roles = {s.role.id for s in stages[: current + 1] if s.role is not None}
        cosigner_ids = [role.id for role, _ in cosigners]
        first = rng.choice(acting)
        chosen = [(first.user.id, first.role.id)]
        for role_pk in dict.fromkeys(cosigner_ids):
            if role_pk in owner_roles:
                continue
            options = sorted(u for u, roles in people.items() if role_pk in roles and u not in dict(chosen))
            if not options:
                return None
            chosen.append((rng.choice(options), role_pk))
        while len(chosen) < decision.required_approvals:
            options = sorted(u for u in people if u not in dict(chosen))
            if not options:
                return None
            person = rng.choice(options)
            chosen.append((person, min(people[person])))
        approvals: list[tuple[int, int | set[int]]] = [(u, set(people[u])) for u, _ in chosen]
        if not quorum_met(
            approvals=approvals,
            required=decision.required_approvals,
            owner_roles=owner_roles,
            cosigner_roles=cosigner_ids,
        ):
            return None
        return chosen

    def _approve(
        self,
        decision: SimpleNamespace,
        stages: list[Stage],
        cosigners: Cosigners,
        at: datetime,
        final_at: datetime,
        *,
        override: bool,
    ) -> list[SimpleNamespace] | None:
        """Approvals (the first an override when ``override``) reaching the quorum at ``at``, or at
        the start of a later stage when it cannot be reached earlier; None if never before the end."""
        rng = self.rng
        current = step_at(stages, at)
        for index in range(current, len(stages)):
            stage = stages[index]
            if index > current:
                if not stage.signers:
                    continue
                limit = stage.end - stage.start
                at = stage.start + min(timedelta(seconds=rng.lognormvariate(math.log(120), 0.8)), limit * 0.9)
            chosen = self._quorum(decision, stages, cosigners, at)
            if chosen is None:
                continue
            _, people = self._available(stages, cosigners, at)
            times = []
            for person, role in chosen:
                since = people[person][role][1]
                times.append((since + (at - since) * rng.uniform(0.05, 0.95), person, role))
            times.sort()
            signed = []
            for position, (when, person, role) in enumerate(times):
                when = at if position == len(times) - 1 else when
                verdict = Verdict.OVERRIDE if override and position == 0 else Verdict.APPROVE
                action = self._override_action(decision) if verdict == Verdict.OVERRIDE else None
                signed.append(self._signoff(decision, stages, people, person, role, verdict, when, action))
            return signed
        return None

    def _reject(
        self, decision: SimpleNamespace, stages: list[Stage], cosigners: Cosigners, at: datetime
    ) -> list[SimpleNamespace] | None:
        """A rejection at ``at`` by someone of the acting stage (sometimes after one approval that
        did not suffice); None if nobody can act then."""
        rng = self.rng
        current, people = self._available(stages, cosigners, at)
        acting = still_held(stages[current].signers, at) if current >= 0 else []
        if not acting:
            return None
        rejecter = rng.choice(acting)
        signed = []
        others = sorted(u for u in people if u != rejecter.user.id)
        if decision.required_approvals > 1 and others and rng.random() < 0.4:
            person = rng.choice(others)
            role = min(people[person])
            since = people[person][role][1]
            signed.append(
                self._signoff(decision, stages, people, person, role, Verdict.APPROVE, since + (at - since) * 0.5)
            )
        signed.append(self._signoff(decision, stages, people, rejecter.user.id, rejecter.role.id, Verdict.REJECT, at))
        return signed

    def _partial(
        self, decision: SimpleNamespace, stages: list[Stage], cosigners: Cosigners, final_at: datetime
    ) -> list[SimpleNamespace]:
        """Before an expiry of a multi-approver decision, sometimes one approval that did not suffice."""
        rng = self.rng
        if decision.required_approvals < 2 or rng.random() >= 0.3:
            return []
        at = final_at - timedelta(seconds=1)
        _, people = self._available(stages, cosigners, at)
        if not people:
            return []
        person = rng.choice(sorted(people))
        role = min(people[person])
        since = people[person][role][1]
        when = since + (at - since) * rng.uniform(0.1, 0.9)
        signoff = self._signoff(decision, stages, people, person, role, Verdict.APPROVE, when)
        approvals: list[tuple[int, int | set[int]]] = [(person, set(people[person]))]
        owner_roles = {s.role.id for s in stages if s.role is not None}
        cosigner_ids = [role.id for role, _ in cosigners]
        if quorum_met(
            approvals=approvals,
            required=decision.required_approvals,
            owner_roles=owner_roles,
            cosigner_roles=cosigner_ids,
        ):
            return []
        return [signoff]

    def _override_action(self, decision: SimpleNamespace) -> dict[str, Any]:
        rng = self.rng
        return {
            "target": {**decision.target, "scope": rng.choice(("single asset", "named mailbox", "one session"))},
            "parameters": {"duration_minutes": rng.choice((30, 60, 240))},
        }


def _final_outcome(decision: SimpleNamespace) -> DecisionStatus:
    outcome = decision.snapshot["chain"]["final_outcome"]
    risky = decision.action_type.changes_production_state or decision.action_type.touches_regulated_data
    if outcome == EscalationChain.FinalOutcome.AUTO_APPROVE and not risky:
        return DecisionStatus.AUTO_APPROVED
    if outcome == EscalationChain.FinalOutcome.REJECT:
        return DecisionStatus.REJECTED
    return DecisionStatus.EXPIRED
