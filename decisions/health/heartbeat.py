"""The escalation engine's heartbeat and what the portal says when it stops: every sweep
overwrites one row; pages read it (with the newest decision-log verification) in one query,
show a red banner when the sweep is older than three periods or the log no longer verifies, and
the first process to notice a stall emails the governance leads, once per stall."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from decisions.models import Heartbeat, LedgerVerification
from governance import rbac

logger = logging.getLogger(__name__)
STALE_PERIODS = 3  # a heartbeat older than this many sweep periods means the sweep has stopped


def heartbeat_beat(*, name: str = Heartbeat.SWEEP, now: datetime | None = None) -> None:
    """Record that ``name`` ran now: one UPDATE (an INSERT the first time). No lock is held
    beyond that statement; two beats writing it at once both succeed."""
    now = now or timezone.now()
    if Heartbeat.objects.filter(name=name).update(at=now, beats=F("beats") + 1):
        return
    try:
        with transaction.atomic():
            Heartbeat.objects.create(name=name, at=now)
    except IntegrityError:  # another process wrote the first one in the meantime
        Heartbeat.objects.filter(name=name).update(at=now, beats=F("beats") + 1)


def sweep_stale_after() -> timedelta:
    return timedelta(seconds=settings.ESCALATION_SWEEP_SECONDS * STALE_PERIODS)


def ledger_stale_after() -> timedelta:
    return timedelta(seconds=settings.LEDGER_CHECKPOINT_SECONDS * STALE_PERIODS)


@dataclass(frozen=True)
class HealthState:
    """What the banners and /readyz need, read in one query. None: never happened."""

    now: datetime
    sweep_at: datetime | None
    sweep_alerted_at: datetime | None
    verified_at: datetime | None
    verified_intact: bool | None
    verification_problem: str

    @property
    def sweep_age(self) -> timedelta | None:
        return None if self.sweep_at is None else self.now - self.sweep_at

    @property
    def sweep_stalled(self) -> bool:
        """The sweep ran once, and not for three periods since (a portal whose beat never ran
        has no "since": /readyz reports it, the banner does not)."""
        age = self.sweep_age
        return age is not None and age > sweep_stale_after()

    @property
    def ledger_failing(self) -> bool:
        if self.verified_at is None:
            return False
        return not self.verified_intact or self.now - self.verified_at > ledger_stale_after()


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite answers a raw query with text
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def health_state(*, now: datetime | None = None) -> HealthState:
    """The sweep's heartbeat and the newest verification of the decision log (one query)."""
    heartbeat, verification = Heartbeat._meta.db_table, LedgerVerification._meta.db_table
    newest = f"(SELECT {{}} FROM {verification} ORDER BY started_at DESC, id DESC LIMIT 1)"  # noqa: S608
    sql = (
        f"SELECT (SELECT at FROM {heartbeat} WHERE name = %s), "  # noqa: S608 - table names from the models
        f"(SELECT alerted_at FROM {heartbeat} WHERE name = %s), "
        f"{newest.format('started_at')}, {newest.format('intact')}, {newest.format('problems')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Heartbeat.SWEEP, Heartbeat.SWEEP])
        sweep_at, alerted_at, verified_at, intact, problems = cursor.fetchone()
    if isinstance(problems, str):
        problems = json.loads(problems)
    return HealthState(
        now=now or timezone.now(),
        sweep_at=_aware(sweep_at),
        sweep_alerted_at=_aware(alerted_at),
        verified_at=_aware(verified_at),
        verified_intact=None if intact is None else bool(intact),
        verification_problem=str(problems[0]) if problems else "",
    )


def health_banners(state: HealthState) -> list[str]:
    """The red banners of the analyst pages and the admin, for ``state``."""
    banners = []
    if state.sweep_stalled and state.sweep_at is not None:
        banners.append(
            f"Escalations are not running since {state.sweep_at:%Y-%m-%d %H:%M:%S} UTC: the escalation sweep has "
            "not run for three of its periods, so deadlines that pass are not acted on."
        )
    if state.ledger_failing and state.verified_at is not None:
        if not state.verified_intact:
            reason = state.verification_problem or "the latest verification found it altered"
        else:
            reason = f"it was last verified at {state.verified_at:%Y-%m-%d %H:%M:%S} UTC and not since"
        banners.append(f"The decision log no longer verifies: {reason}.")
    return banners


def escalation_stall_alert(*, state: HealthState) -> bool:
    """When the sweep has stalled, email the governance leads, once per stall: the first process
    to see it (a page, /readyz) wins a compare-and-set on ``alerted_at`` and sends; the others
    send nothing. True when this call sent. The stall ends with the next heartbeat (``at``
    moves past ``alerted_at``), so a later stall is announced again."""
    if not state.sweep_stalled or state.sweep_at is None:
        return False
    if state.sweep_alerted_at is not None and state.sweep_alerted_at >= state.sweep_at:
        return False
    won = (
        Heartbeat.objects.filter(name=Heartbeat.SWEEP, at__lt=state.now - sweep_stale_after())
        .filter(Q(alerted_at__isnull=True) | Q(alerted_at__lt=F("at")))
        .update(alerted_at=state.now)
    )
    if not won:
        return False
    leads = (
        get_user_model()
        .objects.filter(groups__name=rbac.GOVERNANCE_LEAD, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    recipients = sorted(set(leads))
    logger.error("escalations are not running since %s (no sweep for three periods)", state.sweep_at.isoformat())
    if not recipients:
        return True
    try:
        send_mail(
            subject="[Countersign] escalations are not running",
            message=(
                f"The escalation sweep last ran at {state.sweep_at:%Y-%m-%d %H:%M:%S} UTC. Deadlines that pass are "
                "not escalated until celery beat and a worker run again; check them now.\n\n"
                f"Status: {settings.PUBLIC_BASE_URL}/readyz\n"
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except OSError:
        logger.exception("the stall email to the governance leads could not be sent")
    return True
