from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        """Register every governance model with auditlog. Timestamps are noise, not history."""
        from auditlog.registry import auditlog

        from governance import models as m

        timestamps = ["created_at", "updated_at"]
        auditlog.register(m.DecisionRole, exclude_fields=timestamps, mask_fields=["chat_webhook_url"])
        auditlog.register(m.ActionType, exclude_fields=timestamps)
        auditlog.register(m.OwnershipAssignment, exclude_fields=timestamps)
        auditlog.register(m.Roster, exclude_fields=timestamps)
        auditlog.register(m.RosterMember)
        auditlog.register(m.RosterOverride, exclude_fields=timestamps)
        auditlog.register(m.Certification, exclude_fields=timestamps)
        auditlog.register(m.EscalationChain, exclude_fields=timestamps)
        auditlog.register(m.EscalationStep)
        auditlog.register(m.ApprovalPolicy, exclude_fields=timestamps, m2m_fields={"action_types", "cosigner_roles"})
