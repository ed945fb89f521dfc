"""The outbox: every side effect (a deadline task, a notification, a verdict webhook, a review
announcement, a checkpoint's publication) is a row written in the transaction that causes it.

After the commit a dispatcher publishes the row's task and stamps ``published_at``; the relay
(beat) publishes whatever is still unpublished a little later (broker down, process killed).
A row whose effect is done once (``perform_once``) also records when it was done: a second
delivery of its task finds ``done_at`` set and does nothing, and the relay delivers again one
that was published but never done (a worker killed mid-delivery).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessage(models.Model):
    """One task to publish: its registered name, JSON arguments and, for a deadline, its ETA."""

    task_name = models.CharField(max_length=100)
    args = models.JSONField(default=list)
    eta = models.DateTimeField(null=True, blank=True)
    perform_once = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    publications = models.PositiveSmallIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            # What the relay and the backlog read: the unpublished rows, oldest first.
            models.Index(fields=["created_at"], name="outbox_unpublished", condition=Q(published_at__isnull=True)),
            # What the relay delivers again: published, to be done once, not done.
            models.Index(
                fields=["published_at"],
                name="outbox_undone",
                condition=Q(perform_once=True, done_at__isnull=True, published_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)!r}"
