from django.urls import path

from decisions.web import breakglass_views, export_views, review_views, roster_views, views

app_name = "decisions"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("all/", views.all_decisions, name="all"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/escalate/", views.escalate, name="escalate"),
    path("<uuid:public_id>/receipt.json", views.receipt, name="receipt"),
    path("<uuid:public_id>/reassign/", views.reassign, name="reassign"),
    path("settings/notifications/", views.notification_settings, name="notifications"),
]

# Break-glass and its post-hoc review.
urlpatterns += [
    path("<uuid:public_id>/break-glass/", breakglass_views.break_glass, name="break-glass"),
    path("break-glass/", breakglass_views.break_glass_list, name="break-glass-list"),
    path("break-glass/<uuid:public_id>/", breakglass_views.break_glass_detail, name="break-glass-detail"),
]

# Rosters: the next 14 days, and governed shift swaps.
urlpatterns += [
    path("rosters/", roster_views.roster_list, name="rosters"),
    path("rosters/<uuid:public_id>/", roster_views.roster_detail, name="roster"),
    path("swaps/<uuid:public_id>/<slug:action>/", roster_views.swap_action, name="swap-action"),
]

# The periodic review (governance leads and auditors).
urlpatterns += [
    path("review/", review_views.dashboard, name="review"),
    path("review/reports/", review_views.report_list, name="review-reports"),
    path("review/reports/<uuid:public_id>/", review_views.report_detail, name="review-report"),
    path("review/reports/<uuid:public_id>/oscal.json", review_views.report_oscal, name="review-report-oscal"),
    path("review/export/<str:dataset>.<str:fmt>", export_views.export, name="review-export"),
    path("review/evidence/", export_views.evidence_pack, name="review-evidence"),
]
