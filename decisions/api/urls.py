from rest_framework.routers import SimpleRouter

from decisions.api.views import DecisionViewSet

router = SimpleRouter(trailing_slash=True)
router.register("decisions", DecisionViewSet, basename="decision")

app_name = "api"
urlpatterns = router.urls
