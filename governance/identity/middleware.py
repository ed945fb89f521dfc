"""Session hygiene: an idle timeout and an absolute one, from settings."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

STARTED = "countersign_session_started"
SEEN = "countersign_session_seen"
# The last-seen stamp is rewritten at most this often: not a session write per request.
SEEN_RESOLUTION_SECONDS = 60


def stamp_session_start(sender: object, request: HttpRequest, user: object, **kwargs: object) -> None:
    """user_logged_in: the session's clocks start at the sign-in."""
    now = time.time()
    request.session[STARTED] = now
    request.session[SEEN] = now


class SessionLifetimeMiddleware:
    """Signs out a session idle for SESSION_IDLE_SECONDS, or older than SESSION_ABSOLUTE_SECONDS
    since its sign-in; the next page then asks to sign in again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            now = time.time()
            if STARTED not in request.session:
                # A session from before these stamps (or a login that sent no signal): its clock
                # starts now, so the absolute limit applies to it too.
                request.session[STARTED] = now
            started = float(request.session[STARTED])
            seen = float(request.session.get(SEEN, now))
            if now - seen > settings.SESSION_IDLE_SECONDS or now - started > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)
            elif now - seen > SEEN_RESOLUTION_SECONDS or SEEN not in request.session:
                request.session[SEEN] = now
        return self.get_response(request)
