"""How the moving parts last showed they are alive: one heartbeat row per engine (the escalation
sweep, the break-glass review sweep), overwritten by each beat, and when the leads were last told it had stopped."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last time ``name`` ran (``at``) and the last time its stall was announced
    (``alerted_at``; an announcement older than ``at`` belongs to an earlier stall)."""

    SWEEP = "escalation-sweep"
    BREAK_GLASS_SWEEP = "break-glass-sweep"

    name = models.CharField(max_length=40, unique=True)
    at = models.DateTimeField()
    beats = models.BigIntegerField(default=1)
    alerted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
