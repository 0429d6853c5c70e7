"""The site's page model.

Wagtail 8 lets a site replace ``wagtailcore.Page`` with a base page model of
its own (``WAGTAIL_PAGE_MODEL``, through ``swapper``); Wagtail 7 has no such
setting and always uses ``wagtailcore.Page``. Every query of pages and every
foreign key to them goes through these two functions, as Wagtail's own code
goes through ``swapper.load_model("wagtailcore", "Page")``.
"""

import swapper

# Wagtail 8 names the setting WAGTAIL_PAGE_MODEL (not swapper's default,
# WAGTAILCORE_PAGE_MODEL) when ``wagtail.models`` is imported; say so here too
# so that the answer does not depend on import order. On Wagtail 7 the setting
# is absent and the answer is wagtailcore.Page.
swapper.set_app_prefix("wagtailcore", "wagtail")


def page_model_name() -> str:
    """``"app_label.ModelName"`` of the site's page model: for foreign keys
    and migrations, usable before the models are loaded."""
    return swapper.get_model_name("wagtailcore", "Page")


def page_model():
    """The site's page model class: for queries and ``isinstance``."""
    return swapper.load_model("wagtailcore", "Page")
