"""The few sign-in pages allauth does not provide."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import urlencode


def portal_login_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The admin's login page sends everyone to the portal's (throttled, MFA, SSO): a signed-in
    staff member goes on to the admin, anyone else is asked to sign in as someone who may."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff:
            return view(request, *args, **kwargs)
        target = request.GET.get(REDIRECT_FIELD_NAME) or resolve_url("admin:index")
        query = urlencode({REDIRECT_FIELD_NAME: target})
        return HttpResponseRedirect(f"{resolve_url(settings.LOGIN_URL)}?{query}")

    return wrapper
