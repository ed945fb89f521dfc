"""django-allauth adapters: who may sign in and how, and what an SSO login gives.

Thin: the rules are in ``governance.identity.groups`` (group mapping) and the settings
(``LOCAL_PASSWORD_LOGIN``, ``BREAK_GLASS_USERNAMES``, the rate limits).
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount, SocialLogin
from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import render

from governance.identity.groups import idp_groups_from, mapped_groups, user_sync_sso_groups

# Messages allauth would add on every sign-in and sign-out: the pages say it already.
QUIET_MESSAGES = {"account/messages/logged_in.txt", "account/messages/logged_out.txt"}


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_password_mismatch": "Please enter a correct username and password.",
        "too_many_login_attempts": (
            "Too many failed sign-in attempts for this account: it is locked for now, even with the right "
            "password. Try again in 15 minutes, or ask a governance lead if these attempts were not yours."
        ),
        "local_passwords_off": (
            "Passwords are turned off here: sign in with your organisation's SSO. Only the break-glass "
            "operator may sign in with a password."
        ),
    }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """No self-service accounts: people come from the IdP (or the admin, for the demo)."""
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """The rate limit first (every refusal below counts as a failed attempt), then: passwords
        off, or an SSO-linked account (a password never opens it: its groups come from the IdP).
        The latter gets the wrong-password message, so a username's SSO link cannot be probed."""
        super().pre_authenticate(request, **credentials)
        username = str(credentials.get("username", ""))
        if not settings.LOCAL_PASSWORD_LOGIN and username not in settings.BREAK_GLASS_USERNAMES:
            raise self.validation_error("local_passwords_off")
        if SocialAccount.objects.filter(user__username=username).exists():
            raise self.validation_error("username_password_mismatch")

    def send_password_reset_mail(self, user: Any, email: str, context: dict[str, Any]) -> None:
        """No password for SSO accounts: a reset would let a password bypass the IdP's groups."""
        if SocialAccount.objects.filter(user=user).exists():
            return
        super().send_password_reset_mail(user, email, context)

    def add_message(
        self,
        request: HttpRequest,
        level: int,
        message_template: str | None = None,
        message_context: dict[str, Any] | None = None,
        extra_tags: str = "",
        message: str | None = None,
    ) -> None:
        if message_template in QUIET_MESSAGES:
            return
        super().add_message(request, level, message_template, message_context, extra_tags, message)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        """Just-in-time users, but only with at least one mapped group (checked before, in
        ``pre_social_login``)."""
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """Recompute the portal groups from the IdP's groups claim; none mapped: no access."""
        provider, idp_groups, groups = _groups_of(request, sociallogin)
        if not groups:
            if sociallogin.is_existing:
                user_sync_sso_groups(user=sociallogin.user, groups=[], provider=provider, idp_groups=idp_groups)
            raise ImmediateHttpResponse(
                render(
                    request,
                    "account/no_access.html",
                    {"provider": provider, "idp_groups": idp_groups},
                    status=403,
                )
            )
        if sociallogin.is_existing:
            user_sync_sso_groups(user=sociallogin.user, groups=groups, provider=provider, idp_groups=idp_groups)

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> Any:
        user = super().save_user(request, sociallogin, form)
        provider, idp_groups, groups = _groups_of(request, sociallogin)
        user_sync_sso_groups(user=user, groups=groups, provider=provider, idp_groups=idp_groups)
        return user


def _groups_of(request: HttpRequest, sociallogin: SocialLogin) -> tuple[str, list[str], list]:
    account = sociallogin.account
    provider = account.get_provider(request)
    claim = provider.app.settings.get("groups_claim") or settings.SSO_GROUPS_CLAIM
    idp_groups = idp_groups_from(account.extra_data or {}, claim)
    return account.provider, idp_groups, mapped_groups(provider=account.provider, idp_groups=idp_groups)
