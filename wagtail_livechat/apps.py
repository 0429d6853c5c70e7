from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WagtailLivechatConfig(AppConfig):
    name = "wagtail_livechat"
    label = "wagtail_livechat"
    verbose_name = _("Live chat")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks, receivers  # noqa: F401  (registers checks, connects receivers)
