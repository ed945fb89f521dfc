"""The project's URLs plus two views that fail, to see the 500 page an analyst and a lead get."""

from django.urls import path

from portal.urls import urlpatterns as project_urlpatterns


def _boom(request):
    raise RuntimeError("deliberate failure with a secret-looking detail: token=abc123")


urlpatterns = [
    path("decisions/boom/", _boom),
    path("admin/boom/", _boom),
    *project_urlpatterns,
]
