"""The simulation of one past decision, in memory, as routing, escalation and sign-off would
have produced it.

What the simulation decides, and how:
- arrivals spread over the last ``days`` days, busier in office hours (UTC) and on weekdays;
- the action type, the AI model (versions with different false-positive rates; the newer
  triage-agent version takes over halfway through the period), blast radius, severity,
  confidence, and whether the recommendation was in truth a false positive;
- the timeline the routing would have produced: the owner (or deputy) stage, a stage per
  chain step each time nobody acted in time (late by a few hundred milliseconds, as the
  deadline tasks are) or nobody was available (on leave, an ownership gap), the chain's final
  outcome at the end;
- a verdict (mostly approved; false positives are rejected more often) at a log-normal time in
  minutes (slower at night and at weekends), given by people on call and certified at that
  moment, distinct people up to the policy's quorum; a verdict that cannot reach its quorum in
  time becomes an expiry;
- an outcome reported later for a good share of them (false positive, true positive, benign;
  reverted for some executed false positives), when it falls before ``now``.

The decision log is hash-chained as ``eventlog.next_event`` chains it, so
``verify_decision_log`` passes.
"""

from __future__ import annotations

import itertools
import math
import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

from decisions.lifecycle.eventlog import GENESIS, event_hash
from decisions.lifecycle.snapshots import Requirements, recommended_action, role_entry, snapshot_of
from decisions.models import (
    DecisionRequest,
    DecisionStatus,
    Escalation,
    EventKind,
    Integration,
    OutcomeKind,
    Verdict,
)
from decisions.seeding.history.records import Cosigners, Rows, Stage, decision_record, step_at
from decisions.seeding.history.tables import (
    ACTION_MIX,
    BLAST_RADIUS,
    CANCEL_REASONS,
    EXECUTED,
    GAP_PROBABILITY,
    LEVELS,
    MODELS,
    OUTCOME_NOTES,
    OUTCOME_SHARE,
    SEVERITY,
    SUPERSEDES,
    VERDICTS,
    VERDICTS_FALSE,
    VERDICTS_TRUE,
    ModelProfile,
    draw_target,
)
from decisions.seeding.history.verdicts import Verdicts
from decisions.seeding.history.world import World
from governance.models import DecisionRole, OwnershipAssignment
from governance.selectors import Signer
from governance.snapshot import GovernanceSnapshot


class Generator:
    """Simulates closed decisions submitted by ``integration`` between ``start`` and ``now``,
    against the governance ``snapshot``, drawing everything from ``rng`` (in a fixed order, so
    the same seed gives the same decisions)."""

    def __init__(
        self,
        *,
        rng: random.Random,
        start: datetime,
        now: datetime,
        integration: Integration,
        snapshot: GovernanceSnapshot,
    ) -> None:
        self.rng = rng
        self.start, self.now = start, now
        self.midpoint = start + (now - start) / 2
        self.integration = integration
        self.submitter = integration.service_account
        self.world = World(snapshot, start, now)
        self.verdicts = Verdicts(rng)
        self.action_types = [snapshot.action_types[slug] for slug in ACTION_MIX]
        self.action_weights = list(itertools.accumulate(ACTION_MIX.values()))
        self.models = [m for m in MODELS if m.version not in SUPERSEDES.values()]
        self.model_weights = list(itertools.accumulate(m.weight for m in self.models))

    # --- one decision ---------------------------------------------------------------------

    def decision(self, created: datetime) -> Rows:
        """A closed decision submitted at ``created`` (earlier if its verdict would fall after now)."""
        for _attempt in range(8):
            rows = self._simulate(created)
            if rows.decision.decided_at < self.now:
                break
            created -= rows.decision.decided_at - self.now + timedelta(seconds=self.rng.uniform(60, 900))
        return rows

    def _model(self, created: datetime) -> ModelProfile:
        """The model that submitted at ``created`` (a superseded version in the first half)."""
        model = self.rng.choices(self.models, cum_weights=self.model_weights)[0]
        if model.version in SUPERSEDES and created < self.midpoint:
            return next(m for m in MODELS if m.name == model.name and m.version == SUPERSEDES[model.version])
        return model

    def _simulate(self, created: datetime) -> Rows:
        """One decision submitted at ``created``, from intake to its outcome, with its log."""
        decision, false_positive = self._submission(created)
        rows = Rows(decision=decision)
        log = Log(rows)
        log.add(EventKind.RECEIVED, created, self.submitter.id, self._received(decision))
        req, owner = self._route(decision)
        policy_entry = decision.snapshot["policy"]
        if req.policy is None:
            log.add(EventKind.NO_POLICY, created, self.submitter.id, {"reason": req.reasons[0]})
        if decision.action_type.system_owned and req.policy is not None and req.policy.allow_auto_approval:
            decision.status = DecisionStatus.AUTO_APPROVED
            decision.decided_at = created
            decision.final_action = _recommended_action(decision)
            log.add(
                EventKind.AUTO_APPROVED,
                created,
                self.submitter.id,
                {
                    "policy": policy_entry,
                    "because": req.reasons,
                    "status": decision.status,
                    "final_action": decision.final_action,
                    "owner_role": role_entry(decision.owner_role) if decision.owner_role else None,
                },
            )
        else:
            self._human(rows, log, req, owner, policy_entry, false_positive)
        self._outcome(rows, log, false_positive)
        decision.event_count = log.seq
        decision.last_event_hash = log.prev
        decision.updated_at = log.last_at
        return rows

    def _submission(self, created: datetime) -> tuple[SimpleNamespace, bool]:
        """The decision as the AI submitted it at ``created``, and whether its recommendation is
        in truth a false positive."""
        rng = self.rng
        action_type = rng.choices(self.action_types, cum_weights=self.action_weights)[0]
        model = self._model(created)
        false_positive = rng.random() < model.false_positive_rate
        confidence = rng.betavariate(5, 3) if false_positive else rng.betavariate(9, 1.6)
        incident = f"INC-{rng.randrange(10000, 99999)}"
        title, recommendation, target = draw_target(action_type.slug, rng, incident)
        decision = decision_record(
            public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            integration_id=self.integration.pk,
            submitted_by_id=self.submitter.id,
            request_fingerprint=f"{rng.getrandbits(256):064x}",
            action_type=action_type,
            action_type_id=action_type.id,
            title=title,
            recommendation=recommendation,
            target=target,
            ai_confidence=Decimal(f"{min(max(confidence, 0.05), 0.999):.3f}"),
            blast_radius=rng.choices(LEVELS, cum_weights=BLAST_RADIUS)[0],
            severity=rng.choices(LEVELS, cum_weights=SEVERITY)[0],
            affects_regulated_data=rng.random() < 0.04,
            customer_impact=rng.random() < 0.08,
            incident_ref=incident,
            evidence={"alerts": [f"ALR-{rng.randrange(100000, 999999)}" for _ in range(rng.randrange(1, 4))]},
            model_name=model.name,
            model_version=model.version,
            created_at=created,
            deadline=created,
        )
        return decision, false_positive

    def _received(self, decision: SimpleNamespace) -> dict[str, Any]:
        """The data of the decision's first event, as intake logs it."""
        return {
            "integration": self.integration.name,
            "action_type": decision.action_type.slug,
            "ai_confidence": str(decision.ai_confidence),
            "blast_radius": decision.blast_radius,
            "severity": decision.severity,
            "model": {"name": decision.model_name, "version": decision.model_version},
            "request_fingerprint": decision.request_fingerprint,
        }

    def _route(self, decision: SimpleNamespace) -> tuple[Requirements, OwnershipAssignment | None]:
        """The policy's requirements and the owner at submission, frozen into the decision and its
        snapshot as routing freezes them."""
        req = self.world.requirements(decision)
        owner = self.world.owner(decision.action_type, decision.created_at)
        decision.policy_id = req.policy.id if req.policy else None
        decision.policy_version = req.policy.version if req.policy else None
        decision.owner_role = owner.owner_role if owner else None
        decision.owner_role_id = owner.owner_role_id if owner else None
        decision.required_approvals = req.required_approvals
        decision.snapshot = snapshot_of(req, owner, routed_at=decision.created_at, chain=self.world.chain(req.chain))
        return req, owner

    def _timeline(
        self, decision: SimpleNamespace, req: Requirements, owner: OwnershipAssignment | None
    ) -> tuple[list[Stage], datetime]:
        """Every stage routing and escalation would open if nobody signed, and the instant of the
        chain's final outcome."""
        rng, at, action_type = self.rng, decision.created_at, decision.action_type
        stages: list[Stage] = []
        signers: list[Signer] = []
        if owner is not None and rng.random() >= GAP_PROBABILITY:
            signers = self.world.signers(action_type, owner.owner_role, at)
            if not signers and owner.deputy_role is not None:
                signers = self.world.signers(action_type, owner.deputy_role, at, deputy=True)
        role = signers[0].role if signers else (owner.owner_role if owner else None)
        steps = decision.snapshot["chain"]["steps"]
        for step in range(len(steps) + 1):
            if step:
                role = self.world.role(steps[step - 1]["role_id"])
                signers = self.world.signers(action_type, role, at)
            wait = req.time_to_act_seconds if step == 0 else steps[step - 1]["wait_seconds"]
            reason = "routing" if step == 0 else Escalation.Reason(stages[-1].escalation).label
            stage = self._stage(step, role, at, signers, reason=reason, wait=wait)
            stages.append(stage)
            at = stage.end
        return stages, at

    def _stage(
        self, step: int, role: DecisionRole | None, at: datetime, signers: list[Signer], *, reason: str, wait: int
    ) -> Stage:
        """The stage opened at ``at``: with signers, it times out past its deadline (as late as the
        deadline task runs); without, it moves on at once."""
        if not signers:
            return Stage(
                step=step,
                role=role,
                start=at,
                signers=signers,
                reason=reason,
                end=at,
                escalation=Escalation.Reason.NOBODY_ELIGIBLE,
            )
        deadline = at + timedelta(seconds=wait)
        lateness_ms = max(1, int(self.rng.lognormvariate(math.log(350), 0.9)))
        return Stage(
            step=step,
            role=role,
            start=at,
            signers=signers,
            reason=reason,
            end=deadline + timedelta(milliseconds=lateness_ms),
            escalation=Escalation.Reason.TIMEOUT,
            deadline=deadline,
            lateness_ms=lateness_ms,
            token=f"{self.rng.getrandbits(64):016x}",
        )

    def _human(
        self,
        rows: Rows,
        log: Log,
        req: Requirements,
        owner: OwnershipAssignment | None,
        policy_entry: dict[str, Any] | None,
        false_positive: bool,
    ) -> None:
        """A decision people sign: routed to the owner and co-signers, escalated along the chain
        while nobody acts, closed by the verdict drawn (or the chain's final outcome)."""
        decision = rows.decision
        cosigners = self._cosigners(log, decision, req)
        log.add(
            EventKind.ROUTED,
            decision.created_at,
            self.submitter.id,
            {
                "policy": policy_entry,
                "because": req.reasons,
                "owner_role": role_entry(decision.owner_role),
                "required_approvals": req.required_approvals,
            },
        )
        if owner is None:
            log.add(
                EventKind.OWNERSHIP_GAP,
                decision.created_at,
                self.submitter.id,
                {"slot": "owner", "reason": f"{decision.action_type.name} has no current owner"},
            )
        stages, final_at = self._timeline(decision, req, owner)
        verdict = self.rng.choices(VERDICTS, cum_weights=VERDICTS_FALSE if false_positive else VERDICTS_TRUE)
        status, end, signed, final = self.verdicts.sign(verdict[0], decision, stages, cosigners, final_at)
        grants = self._replay(rows, log, stages, cosigners, signed, end=end, final=final)
        self._close(rows, log, status=status, end=end, signed=signed, final=final, stages=stages, grants=grants)

    def _cosigners(self, log: Log, decision: SimpleNamespace, req: Requirements) -> Cosigners:
        """Each co-signer role with who may sign for it at submission, frozen into the snapshot
        (a gap logged for a role nobody can take)."""
        created = decision.created_at
        cosigners: Cosigners = []
        for role in req.cosigner_roles:
            signers = self.world.signers(decision.action_type, role, created)
            cosigners.append((role, signers))
            decision.snapshot["cosigners"].append(
                {"role": role_entry(role), "eligible": [self.world.entry(s) for s in signers]}
            )
            if not signers:
                log.add(
                    EventKind.OWNERSHIP_GAP,
                    created,
                    self.submitter.id,
                    {"role": role_entry(role), "slot": "co-signer", "reason": "nobody on call and certified"},
                )
        return cosigners

    def _replay(
        self,
        rows: Rows,
        log: Log,
        stages: list[Stage],
        cosigners: Cosigners,
        signed: list[SimpleNamespace],
        *,
        end: datetime,
        final: bool,
    ) -> int:
        """Replay what happened up to the end, in time order, into the log and the rows; returns
        how many people were granted access (co-signers and every opened stage's signers)."""
        granted = dict.fromkeys(s.user.id for _, signers in cosigners for s in signers)
        for at, _, what, item in _happenings(stages, signed, end=end, final=final):
            if isinstance(item, SimpleNamespace):
                self._signed(rows, log, item, at)
            elif what == "opened":
                self._open(rows, log, item, stages)
                granted.update(dict.fromkeys(s.user.id for s in item.signers))
            else:
                rows.escalations.append(
                    SimpleNamespace(from_step=item.step, reason=item.escalation, at=at, lateness_ms=item.lateness_ms)
                )
        return len(granted)

    def _signed(self, rows: Rows, log: Log, signoff: SimpleNamespace, at: datetime) -> None:
        """A sign-off, and its event as the sign-off service logs it."""
        rows.signoffs.append(signoff)
        log.add(
            EventKind.SIGNED,
            at,
            signoff.signer_id,
            {
                "signoff": str(signoff.public_id),
                "verdict": signoff.verdict,
                "reason_code": signoff.reason_code,
                "rationale": signoff.rationale,
                "signed_as_role_id": signoff.signed_as_id,
                "override_action": signoff.override_action,
                "step": signoff.step,
            },
        )

    def _open(self, rows: Rows, log: Log, stage: Stage, stages: list[Stage]) -> None:
        """A stage opening: the escalation into it, its snapshot entry, and the grant to its
        signers (or the gap when nobody could take it)."""
        decision = rows.decision
        actor = self.submitter.id if stage.step == 0 else None
        if stage.step:
            previous = stages[stage.step - 1]
            log.add(
                EventKind.ESCALATED,
                stage.start,
                None,
                {
                    "from_step": previous.step,
                    "to_step": stage.step,
                    "role": decision.snapshot["chain"]["steps"][stage.step - 1]["role"],
                    "reason": stage.reason,
                },
            )
        decision.current_step = stage.step
        decision.snapshot["stages"].append(
            {
                "step": stage.step,
                "role": role_entry(stage.role),
                "reason": stage.reason,
                "at": stage.start.isoformat(),
                "eligible": [self.world.entry(s) for s in stage.signers],
            }
        )
        if stage.deadline is None:  # nobody could take the stage
            if stage.role is not None:
                log.add(
                    EventKind.OWNERSHIP_GAP,
                    stage.start,
                    actor,
                    {"step": stage.step, "role": role_entry(stage.role), "reason": "nobody on call and certified"},
                )
            return
        decision.deadline = stage.deadline
        decision.deadline_token = stage.token
        log.add(
            EventKind.GRANTED,
            stage.start,
            actor,
            {
                "step": stage.step,
                "role": role_entry(stage.role),
                "users": [{"id": s.user.id, "username": s.user.get_username(), "why": s.why()} for s in stage.signers],
                "deadline": stage.deadline.isoformat(),
            },
        )

    def _close(
        self,
        rows: Rows,
        log: Log,
        *,
        status: DecisionStatus,
        end: datetime,
        signed: list[SimpleNamespace],
        final: bool,
        stages: list[Stage],
        grants: int,
    ) -> None:
        """The verdict (or the chain's final outcome, or the cancellation) and the revocation."""
        decision = rows.decision
        decision.status = status
        decision.decided_at = end
        actor = signed[-1].signer_id if signed and not final else None
        data: dict[str, Any]
        if final:
            decision.final_action = _recommended_action(decision) if status == DecisionStatus.AUTO_APPROVED else None
            data = {
                "status": status,
                "final_action": decision.final_action,
                "reason": Escalation.Reason(stages[-1].escalation).label,
                "final_outcome": decision.snapshot["chain"]["final_outcome"],
            }
        elif status == DecisionStatus.CANCELLED:
            actor = self.submitter.id
            data = {"status": status, "final_action": None, "reason": self.rng.choice(CANCEL_REASONS)}
        elif status == DecisionStatus.REJECTED:
            data = {"status": status, "final_action": None, "by": actor}
        else:
            if status == DecisionStatus.OVERRIDDEN:
                override = next(s.override_action for s in signed if s.verdict == Verdict.OVERRIDE)
                decision.final_action = {**_recommended_action(decision), **override, "overridden": True}
            else:
                decision.final_action = _recommended_action(decision)
            data = {"status": status, "final_action": decision.final_action, "approvals": len(signed)}
        kind = {DecisionStatus.EXPIRED: EventKind.EXPIRED, DecisionStatus.CANCELLED: EventKind.CANCELLED}.get(
            status, EventKind.DECIDED
        )
        log.add(kind, end, actor, data)
        log.add(EventKind.REVOKED, end, actor, {"grants_revoked": grants})

    # --- later feedback -------------------------------------------------------------------

    def _outcome(self, rows: Rows, log: Log, false_positive: bool) -> None:
        """For a share of the decisions, the outcome reported some hours after the verdict (when
        that falls before now)."""
        rng, decision = self.rng, rows.decision
        share = OUTCOME_SHARE.get(decision.status, 0)
        if not share or rng.random() >= share:
            return
        reported_at = decision.decided_at + timedelta(hours=rng.lognormvariate(math.log(8), 1.1))
        if reported_at >= self.now:
            return
        if false_positive:
            kind = OutcomeKind.FALSE_POSITIVE
        else:
            kind = rng.choices((OutcomeKind.TRUE_POSITIVE, OutcomeKind.BENIGN), weights=(0.75, 0.25))[0]
        executed = decision.status in EXECUTED and decision.action_type.changes_production_state
        reverted = executed and rng.random() < (0.55 if false_positive else 0.03)
        signers = [s.signer_id for s in rows.signoffs]
        reporter = signers[-1] if signers and rng.random() < 0.2 else self.submitter.id
        notes = OUTCOME_NOTES[kind] + (" Action reverted." if reverted else "")
        rows.outcome = SimpleNamespace(
            kind=kind.value,
            reverted=reverted,
            notes=notes,
            reported_by_id=reporter,
            reported_at=reported_at,
        )
        log.add(
            EventKind.OUTCOME_REPORTED,
            reported_at,
            reporter,
            {"kind": kind.value, "reverted": reverted, "notes": notes},
        )


def _recommended_action(decision: SimpleNamespace) -> dict[str, Any]:
    """``snapshots.recommended_action`` of a decision record."""
    # A stand-in for the DecisionRequest it takes: it reads only the action type, the target,
    # the recommendation and the proposed chain, which the record has.
    return recommended_action(cast("DecisionRequest", decision))


def _happenings(
    stages: list[Stage], signed: list[SimpleNamespace], *, end: datetime, final: bool
) -> list[tuple[datetime, int, str, Stage | SimpleNamespace]]:
    """(instant, order, what, item) for each stage opened, each escalation out of a stage and
    each sign-off up to the end, in time order (at one instant in that order)."""
    if final:
        opened, escalated = stages, stages
    else:
        current = step_at(stages, end)
        opened, escalated = stages[: current + 1], stages[:current]
    happenings: list[tuple[datetime, int, str, Stage | SimpleNamespace]] = []
    for stage in opened:
        happenings.append((stage.start, len(happenings), "opened", stage))
    for stage in escalated:
        happenings.append((stage.end, len(happenings), "escalated", stage))
    for signoff in signed:
        happenings.append((signoff.created_at, len(happenings), "signed", signoff))
    happenings.sort(key=lambda item: (item[0], item[1]))
    return happenings


class Log:
    """The decision's hash chain, built as ``eventlog.next_event`` builds it."""

    __slots__ = ("rows", "pid", "seq", "prev", "last_at")

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.pid = str(rows.decision.public_id)
        self.seq = 0
        self.prev = GENESIS
        self.last_at: datetime = rows.decision.created_at  # the instant of the last event

    def add(self, kind: str, at: datetime, actor_id: int | None, data: dict[str, Any]) -> None:
        self.seq += 1
        digest = event_hash(
            decision_public_id=self.pid,
            seq=self.seq,
            kind=kind,
            at=at,
            actor_id=actor_id,
            data=data,
            prev_hash=self.prev,
        )
        self.rows.events.append((self.seq, kind, at, actor_id, data, self.prev, digest))
        self.prev = digest
        self.last_at = at
