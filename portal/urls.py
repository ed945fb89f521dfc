from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from decisions.web import health_views
from governance.identity.views import portal_login_only

admin.site.site_header = "Countersign governance"
admin.site.site_title = "Countersign"
admin.site.index_title = "Governance configuration"
# One way in for everyone: the admin's own login form would bypass throttling, MFA and SSO.
admin.site.login = portal_login_only(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="decisions:queue", permanent=False)),
    path("healthz", health_views.healthz, name="healthz"),
    path("readyz", health_views.readyz, name="readyz"),
    path("metrics", health_views.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("decisions/", include("decisions.web.urls")),
    path("api/v1/", include("decisions.api.urls", namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]
