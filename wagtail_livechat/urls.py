"""Public URLs of the widget: include under any prefix, e.g. ``livechat/``."""

from django.urls import path

from . import attachment_views, health, views

app_name = "wagtail_livechat"

urlpatterns = [
    path("config/", views.chatflow_config, name="config"),
    path("visitor/", views.start_visitor, name="visitor"),
    path("search/", views.knowledge_base_search, name="search"),
    path("confirm/<str:token>/", views.confirm_email, name="confirm"),
    path("health/", health.health, name="health"),
    path("attachments/", attachment_views.visitor_upload, name="upload"),
    path("attachments/<uuid:key>/", attachment_views.download, name="attachment"),
]
