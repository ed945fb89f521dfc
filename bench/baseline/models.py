"""The baseline for bench/intake: one row of about the same size as a decision request."""

from django.db import models


class BaselineRow(models.Model):
    title = models.CharField(max_length=200)
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title
