from django.urls import path

from decisions import views

app_name = "decisions"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("all/", views.all_decisions, name="all"),
    path("<uuid:public_id>/", views.detail, name="detail"),
]
