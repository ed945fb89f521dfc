from django.urls import path

from decisions import views

app_name = "decisions"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("all/", views.all_decisions, name="all"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/escalate/", views.escalate, name="escalate"),
    path("<uuid:public_id>/reassign/", views.reassign, name="reassign"),
    path("settings/notifications/", views.notification_settings, name="notifications"),
]
