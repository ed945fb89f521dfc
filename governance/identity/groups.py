"""IdP groups -> portal groups, recomputed at every SSO login (governance.models.IdPGroupMapping)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q

from governance import rbac
from governance.audit import acting_as, change_reason
from governance.models import IdPGroupMapping

if TYPE_CHECKING:
    from django.contrib.auth.models import User

MAPPABLE_GROUPS = rbac.SSO_MAPPABLE_GROUPS
STAFF_GROUPS = {rbac.GOVERNANCE_LEAD, rbac.AUDITOR}


def idp_groups_from(extra_data: Mapping[str, Any], claim: str) -> list[str]:
    """The values of the groups ``claim`` in what the IdP sent: OIDC keeps the ID token's and the
    userinfo's claims apart (either may carry it), SAML a list per attribute name. A single string
    counts as one group."""
    sources: list[Mapping[str, Any]] = [extra_data]
    for part in ("id_token", "userinfo"):
        if isinstance(extra_data.get(part), Mapping):
            sources.append(extra_data[part])
    found: list[str] = []
    for source in sources:
        value = source.get(claim)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            found += [str(v) for v in value if str(v) and str(v) not in found]
    return found


def mapped_groups(*, provider: str, idp_groups: Iterable[str]) -> list[Group]:
    """The portal groups the enabled mappings give for these IdP groups (of ``provider`` or of any IdP)."""
    names = list(idp_groups)
    if not names:
        return []
    rows = (
        IdPGroupMapping.objects.filter(enabled=True, idp_group__in=names, group__name__in=MAPPABLE_GROUPS)
        .filter(Q(provider="") | Q(provider=provider))
        .select_related("group")
    )
    return sorted({row.group for row in rows}, key=lambda g: g.name)


def end_every_session(user: User) -> None:
    """End every session of ``user``, on any session backend: each session keeps a hash of the
    password, so a fresh unusable password invalidates them all at their next request. Only for
    SSO-linked accounts (a password never opens one: ``AccountAdapter.pre_authenticate``)."""
    user.set_unusable_password()
    user.save(update_fields=["password"])


@transaction.atomic
def user_sync_sso_groups(*, user: User, groups: list[Group], provider: str, idp_groups: list[str]) -> bool:
    """Give ``user`` exactly ``groups`` among the mappable ones (other groups are left alone), and
    staff status with a lead's or an auditor's group. Audited (actor: the system) with the IdP
    groups as the reason. With no group left, every session of the user ends
    (``end_every_session``), whatever their password was. Returns whether anything changed."""
    wanted = {g.pk for g in groups}
    managed = Group.objects.filter(name__in=MAPPABLE_GROUPS)
    current = set(user.groups.filter(pk__in=managed).values_list("pk", flat=True)) if user.pk else set()
    staff = any(g.name in STAFF_GROUPS for g in groups)
    if current == wanted and user.is_staff == staff:
        return False
    reason = f"SSO login via {provider}: IdP groups {', '.join(idp_groups) or '(none)'}"
    with acting_as(None), change_reason(reason):
        if user.is_staff != staff:
            user.is_staff = staff
            user.save(update_fields=["is_staff"])
        if current - wanted:
            user.groups.remove(*(current - wanted))
        if wanted - current:
            user.groups.add(*(wanted - current))
        if not wanted and user.pk:
            end_every_session(user)
    return True
