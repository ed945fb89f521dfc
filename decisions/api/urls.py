from django.urls import path
from rest_framework.routers import SimpleRouter

from decisions.api.replay import PolicyDraftViewSet
from decisions.api.review import ReviewFiguresView, ReviewGapsView, ReviewReportViewSet
from decisions.api.views import DecisionViewSet

router = SimpleRouter(trailing_slash=True)
router.register("decisions", DecisionViewSet, basename="decision")
router.register("review/reports", ReviewReportViewSet, basename="review-report")
router.register("policy-drafts", PolicyDraftViewSet, basename="policy-draft")

app_name = "api"
urlpatterns = [
    *router.urls,
    path("review/figures/", ReviewFiguresView.as_view(), name="review-figures"),
    path("review/gaps/", ReviewGapsView.as_view(), name="review-gaps"),
]
