"""What one service call writes for a decision, collected in memory and written in one go.

Routing, the stage moves and the services record into a ``DecisionWrites`` the events they log
(hash-chained onto the decision's head as they are logged), the certify grants they give, the
people to notify, whether the verdict is to be announced and whether a deadline was set. The
service that owns the transaction then calls ``write`` (or ``write_many`` for a sweep batch):

1. the decision row (an INSERT for a new decision, else an UPDATE),
2. every event in one INSERT, every grant in one INSERT,
3. its side effects as outbox rows (the deadline task, the notifications, the verdict webhook),
   one INSERT, published after the commit (``decisions.outbox``).

So a reader of ``decision_submit`` sees every write of a submission in one place, and a
rolled-back transaction leaves nothing behind: no rows, no messages.

The one write that cannot wait is revoking the grants of a saved decision (``revoke_all``): the
``revoked`` event records how many rows it removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from decisions.lifecycle import roundtrip
from decisions.lifecycle.eventlog import next_event
from decisions.models import DecisionEvent, DecisionRequest, DecisionRequestUserObjectPermission, DecisionStatus
from decisions.outbox import messages, store
from governance.models import DecisionRole


@dataclass(frozen=True)
class Announcement:
    """People made eligible at ``step`` in ``role``: they are told after commit."""

    step: int
    role: DecisionRole
    users: list[Any]


@dataclass
class DecisionWrites:
    """The pending writes of one decision, in the order they happened (see the module docstring)."""

    decision: DecisionRequest
    events: list[DecisionEvent] = field(default_factory=list)
    grants: list[DecisionRequestUserObjectPermission] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    verdict_announced: bool = False
    deadline_set: bool = False

    def log(self, kind: str, *, at: datetime, actor: Any = None, data: dict[str, Any] | None = None) -> DecisionEvent:
        """Log one event: chained onto the decision's head now, inserted by ``write``."""
        event = next_event(self.decision, kind=kind, at=at, actor=actor, data=data)
        self.events.append(event)
        return event

    def grant(self, users: list[Any], permission_id: int) -> None:
        """Give ``users`` the certify permission on the decision (a grant held already stays as it is)."""
        self.grants.extend(
            DecisionRequestUserObjectPermission(content_object=self.decision, permission_id=permission_id, user=u)
            for u in {u.pk: u for u in users}.values()
        )

    def revoke_all(self) -> int:
        """Drop every grant: the pending ones, and (for a saved decision) the stored ones, at once.
        Returns how many there were."""
        pending = len(self.grants)
        self.grants.clear()
        if self.decision.pk is None:
            return pending
        deleted, _ = DecisionRequestUserObjectPermission.objects.filter(content_object=self.decision).delete()
        return deleted + pending

    def announce(self, step: int, role: DecisionRole, users: list[Any]) -> None:
        self.announcements.append(Announcement(step=step, role=role, users=list(users)))

    def announce_verdict(self) -> None:
        self.verdict_announced = True

    def set_deadline(self) -> None:
        self.deadline_set = True

    def write(self, *, fields: list[str] | None = None) -> None:
        """Write it all in the caller's transaction: the decision row (INSERT when new; else an
        UPDATE of ``fields``, or of every field), its events, its grants and its side effects
        (outbox). A new decision whose id was reserved (``intake_limits`` on PostgreSQL) goes in
        one round trip (``lifecycle.roundtrip``)."""
        if self.decision._state.adding and self.decision.pk is not None:
            self._insert_in_one_round_trip()
            return
        if self.decision.pk is None:
            self.decision.save(force_insert=True)
        else:
            self.decision.save(update_fields=fields)
        write_rows([self])
        queue_side_effects([self])

    def _insert_in_one_round_trip(self) -> None:
        outbox = store.rows_for(side_effects([self]))
        inserts = [roundtrip.Insert([self.decision])]
        if self.events:
            inserts.append(roundtrip.Insert(self.events))
        if self.grants:
            inserts.append(roundtrip.Insert(self.grants, ignore_conflicts=True))
        if outbox:
            inserts.append(roundtrip.Insert(outbox, returning_ids=True))
        roundtrip.run(inserts)
        self.events, self.grants = [], []
        if outbox:
            store.dispatch_after_commit(outbox)


def write_rows(plans: list[DecisionWrites]) -> None:
    """The events and grants of saved decisions: one INSERT each, whatever the batch size."""
    events = [event for plan in plans for event in plan.events]
    grants = [grant for plan in plans for grant in plan.grants]
    if events:
        DecisionEvent.objects.bulk_create(events)
    if grants:
        DecisionRequestUserObjectPermission.objects.bulk_create(grants, ignore_conflicts=True)
    for plan in plans:
        plan.events, plan.grants = [], []


def queue_side_effects(plans: list[DecisionWrites]) -> None:
    """The side effects of saved decisions, as outbox rows in one INSERT (published after the
    commit)."""
    store.record(side_effects(plans))


def side_effects(plans: list[DecisionWrites]) -> list[messages.Message]:
    """What the plans announce, as messages (and cleared from the plans): the deadline task of a
    pending decision whose deadline was set, the notifications of the newly eligible, and the
    verdict webhook of a decision that ended."""
    found: list[messages.Message] = []
    for plan in plans:
        decision = plan.decision
        for announcement in plan.announcements:
            found += messages.eligible(decision, announcement.step, announcement.role, announcement.users)
        if plan.deadline_set and decision.status == DecisionStatus.PENDING:
            found += messages.deadline(decision)
        if plan.verdict_announced:
            found += messages.verdict(decision)
        plan.announcements, plan.deadline_set, plan.verdict_announced = [], False, False
    return found
