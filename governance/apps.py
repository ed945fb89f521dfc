from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        """Register every governance model with auditlog. Timestamps are noise, not history."""
        from allauth.account.signals import user_logged_in as allauth_logged_in
        from auditlog.models import LogEntry
        from auditlog.registry import auditlog
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import pre_save

        from governance import models as m
        from governance.audit import attach_reason
        from governance.identity.context import note_sso_authentication
        from governance.identity.middleware import stamp_session_start

        timestamps = ["created_at", "updated_at"]
        auditlog.register(
            m.DecisionRole,
            exclude_fields=timestamps,
            mask_fields=["chat_webhook_url"],
            mask_callable="governance.audit.mask_url",
        )
        auditlog.register(m.ActionType, exclude_fields=timestamps)
        auditlog.register(m.OwnershipAssignment, exclude_fields=timestamps)
        auditlog.register(m.Roster, exclude_fields=timestamps)
        auditlog.register(m.RosterMember)
        auditlog.register(m.RosterOverride, exclude_fields=timestamps)
        auditlog.register(m.ShiftSwap, exclude_fields=timestamps)
        auditlog.register(m.Certification, exclude_fields=timestamps)
        auditlog.register(m.EscalationChain, exclude_fields=timestamps)
        auditlog.register(m.EscalationStep)
        auditlog.register(m.ApprovalPolicy, exclude_fields=timestamps, m2m_fields={"action_types", "cosigner_roles"})
        # Who may do what: a user's groups, staff and superuser flags (never the password hash).
        auditlog.register(
            get_user_model(),
            include_fields=["username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser"],
            m2m_fields={"groups", "user_permissions"},
        )
        pre_save.connect(attach_reason, sender=LogEntry, dispatch_uid="countersign-attach-reason")
        auditlog.register(m.IdPGroupMapping, exclude_fields=timestamps)
        user_logged_in.connect(stamp_session_start, dispatch_uid="countersign-session-start")
        # allauth's own signal (Django's has no ``sociallogin``): sent after it records the login.
        allauth_logged_in.connect(note_sso_authentication, dispatch_uid="countersign-sso-authentication")
