from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Countersign governance"
admin.site.site_title = "Countersign"
admin.site.index_title = "Governance configuration"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
]
