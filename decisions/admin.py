"""Integrations and their API keys, for governance leads; decisions read-only for reviewers."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from decisions import services
from decisions.models import DecisionEvent, DecisionRequest, Integration, IntegrationAPIKey, PersonalToken, SignOff

admin.site.unregister(APIKey)


class IntegrationAPIKeyInline(admin.TabularInline):
    model = IntegrationAPIKey
    fields = ("prefix", "name", "created", "expiry_date", "last_used_at", "revoked")
    readonly_fields = ("prefix", "name", "created", "expiry_date", "last_used_at")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # keys are created on their own page, where the key is shown once


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ("name", "team_contact", "is_active", "rate_limit_per_minute", "max_pending", "webhook_url")
    list_filter = ("is_active",)
    search_fields = ("name", "team_contact")
    filter_horizontal = ("allowed_action_types",)
    readonly_fields = ("service_account", "signing_secret")
    inlines = (IntegrationAPIKeyInline,)
    actions = ("rotate_webhook_secret",)
    fieldsets = (
        (None, {"fields": ("name", "team_contact", "is_active", "allowed_action_types")}),
        ("Limits", {"fields": ("rate_limit_per_minute", "max_pending")}),
        ("Verdict webhook", {"fields": ("webhook_url", "signing_secret")}),
        ("Identity", {"fields": ("service_account",)}),
    )

    @admin.display(description="Webhook signing secret")
    def signing_secret(self, obj: Integration) -> str:
        if not obj.pk:
            return "Generated when the integration is saved."
        return format_html("<code>{}</code>", obj.webhook_secret)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            services.integration_provision(actor=request.user, integration=obj)

    @admin.action(description="Rotate the webhook signing secret")
    def rotate_webhook_secret(self, request, queryset):
        for integration in queryset:
            services.integration_rotate_secret(actor=request.user, integration=integration)
        messages.success(request, f"Rotated {queryset.count()} secret(s); update the receivers.")


@admin.register(IntegrationAPIKey)
class IntegrationAPIKeyAdmin(APIKeyModelAdmin):
    """The plain key is shown once, in a message, when the key is created; only its hash is kept."""

    list_display = ("prefix", "name", "integration", "created", "expiry_date", "last_used_at", "revoked")
    list_filter = ("integration", "revoked")
    list_select_related = ("integration",)
    search_fields = ("name", "prefix", "integration__name")

    def get_readonly_fields(self, request, obj=None):
        fields = (*super().get_readonly_fields(request, obj), "last_used_at")
        return (*fields, "integration") if obj is not None else fields


@admin.register(PersonalToken)
class PersonalTokenAdmin(APIKeyModelAdmin):
    list_display = ("prefix", "name", "user", "created", "expiry_date", "last_used_at", "revoked")
    list_filter = ("revoked",)
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username")

    def has_add_permission(self, request):
        return False  # people create their own tokens (manage.py issue_token for now)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DecisionRequest)
class DecisionRequestAdmin(ReadOnlyAdmin):
    list_display = ("title", "status", "action_type", "integration", "owner_role", "created_at", "deadline")
    list_filter = ("status", "action_type", "integration")
    list_select_related = ("action_type", "integration", "owner_role")
    search_fields = ("title", "incident_ref", "public_id")
    date_hierarchy = "created_at"


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    list_display = ("decision", "signer", "signed_as", "verdict", "reason_code", "created_at", "voided_at")
    list_filter = ("verdict", "reason_code")
    list_select_related = ("decision", "signer", "signed_as")


@admin.register(DecisionEvent)
class DecisionEventAdmin(ReadOnlyAdmin):
    list_display = ("decision", "seq", "kind", "at", "actor")
    list_filter = ("kind",)
    list_select_related = ("decision", "actor")
