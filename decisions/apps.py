from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "decisions"
    verbose_name = "Decisions"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from decisions.models import Integration

        # Who may submit what, and where verdicts go, is governance too: audited, secret masked.
        auditlog.register(Integration, mask_fields=["webhook_secret"], m2m_fields={"allowed_action_types"})
