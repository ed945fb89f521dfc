"""Who acts on a decision: a person, an integration's service account, or None for the system
(beat, a deadline task). Every service takes one as ``actor`` and logs it."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    Person: TypeAlias = User
    Actor: TypeAlias = User | None

    class SignedInRequest(HttpRequest):
        """A request behind ``login_required``: ``user`` is a person, never anonymous."""

        user: User

else:
    Person = Actor = object
    SignedInRequest = HttpRequest
