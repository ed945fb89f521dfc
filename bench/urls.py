from django.urls import path

from bench.baseline.views import AuthenticatedBaselineView, BaselineView
from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [
    path("bench/baseline/", BaselineView.as_view()),
    path("bench/baseline-auth/", AuthenticatedBaselineView.as_view()),
    *portal_urlpatterns,
]
