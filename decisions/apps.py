from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "decisions"
    verbose_name = "Decisions"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from decisions.models import (
            Integration,
            IntegrationAPIKey,
            LegalHold,
            PolicyDraft,
            RetentionRun,
            ReviewReport,
            ReviewSchedule,
        )

        # Who may submit what, and where verdicts go, is governance too: audited. The signing secret
        # never enters the log (masking would keep half of it); its rotation time does.
        auditlog.register(Integration, exclude_fields=["webhook_secret"], m2m_fields={"allowed_action_types"})
        # Its keys: who created, expired or revoked which (the key itself is never stored).
        auditlog.register(IntegrationAPIKey, include_fields=["name", "integration", "expiry_date", "revoked"])
        # The review cycle: schedule changes and every sign-off of a frozen report, with the actor.
        auditlog.register(ReviewSchedule, exclude_fields=["created_at", "updated_at"])
        auditlog.register(
            ReviewReport, include_fields=["signed_off_by", "signed_off_at", "signoff_notes", "follow_up_actions"]
        )
        # Retention: every legal hold placed or released, every run, with the actor.
        auditlog.register(LegalHold)
        auditlog.register(RetentionRun)
        # Draft policies: who drafted, changed and activated which, with the activation's reason.
        auditlog.register(
            PolicyDraft, exclude_fields=["created_at", "updated_at"], m2m_fields={"action_types", "cosigner_roles"}
        )
        # Register the Celery tasks in every process (web included): services queue them by name.
        import decisions.tasks  # noqa: F401
