"""wagtail_livechat.compat: Wagtail 8's behaviour on Wagtail 7.4.

The fallback is exercised directly, so that it runs on every Wagtail of the
matrix (tox.ini); on Wagtail 8 it is also compared with Wagtail's own."""

import wagtail
from django.test import RequestFactory
from wagtail import hooks
from wagtail.admin.menu import MenuItem, WagtailMenuRegisterable, WagtailMenuRegisterableGroup

from wagtail_livechat import compat
from wagtail_livechat.wagtail_hooks import LIVECHAT_MENU_HOOK, LivechatViewSetGroup

HOOK = "register_compat_test_menu_item"


def registerable(label, order=None):
    attrs = {"menu_label": label, "menu_url": f"/{label.lower()}/", "menu_name": label.lower()}
    if order is not None:
        attrs["menu_order"] = order
    return type(label, (WagtailMenuRegisterable,), attrs)


class Group(compat.SubmenuHookMixin, WagtailMenuRegisterableGroup):
    items = (registerable("Third", 30), registerable("First", 10), registerable("Unordered"))
    submenu_hook = HOOK
    menu_label = "Group"
    menu_name = "group"
    menu_order = 250


def labels(menu_item):
    request = RequestFactory().get("/admin/")
    items = menu_item.menu.menu_items_for_request(request)
    return [(item.label, item.order) for item in sorted(items, key=lambda i: i.order)]


def test_the_fallback_orders_by_menu_order_and_adds_the_hooks_items():
    with hooks.register_temporarily(HOOK, lambda: MenuItem("Hooked", "/hooked/", order=20)):
        item = compat.submenu_hook_menu_item(Group())
        assert labels(item) == [("Unordered", 3), ("First", 10), ("Hooked", 20), ("Third", 30)]
    assert (item.name, item.label, item.order) == ("group", "Group", 250)


def test_the_fallback_without_a_hook_shows_the_groups_own_items():
    class Plain(Group):
        submenu_hook = None

    assert [label for label, _ in labels(compat.submenu_hook_menu_item(Plain()))] == [
        "Unordered",
        "First",
        "Third",
    ]


def test_the_group_order_is_its_own_then_the_given_one():
    class Unordered(Group):
        menu_order = None

    assert compat.submenu_hook_menu_item(Unordered(), order=7).order == 7
    assert compat.submenu_hook_menu_item(Group(), order=7).order == 250


def test_the_fallback_is_used_only_where_wagtail_lacks_submenu_hook():
    assert compat.HAS_SUBMENU_HOOK == (wagtail.VERSION[0] >= 8)
    group_method = LivechatViewSetGroup.get_menu_item
    if compat.HAS_SUBMENU_HOOK:
        assert "get_menu_item" not in vars(compat.SubmenuHookMixin)
    else:
        assert group_method is compat.SubmenuHookMixin.get_menu_item


def test_the_live_chat_menu_is_the_same_through_wagtail_and_through_the_fallback():
    """On Wagtail 8 the group is built by Wagtail; the fallback must agree."""
    group = LivechatViewSetGroup()
    native = group.get_menu_item()
    fallback = compat.submenu_hook_menu_item(group)
    assert native.menu.register_hook_name == fallback.menu.register_hook_name == LIVECHAT_MENU_HOOK
    assert [(i.name, i.order) for i in native.menu.registered_menu_items] == [
        (i.name, i.order) for i in fallback.menu.registered_menu_items
    ]
    assert (native.name, native.order) == (fallback.name, fallback.order) == ("livechat", 250)


# The last migration of each Wagtail app in Wagtail 7.4, the oldest Wagtail
# supported. makemigrations on Wagtail 8 makes a new migration depend on 8's
# latest (wagtailcore's 0098_apitoken), which 7.4 does not have: the app's
# migrations would then not load there at all.
WAGTAIL_74_LAST = {
    "wagtailcore": 97,
    "wagtailimages": 27,
    "wagtaildocs": 14,
    "wagtailusers": 15,
    "wagtailadmin": 6,
    "wagtailsearch": 10,
    "wagtailforms": 5,
    "wagtailredirects": 8,
    "wagtailembeds": 9,
}


def test_migrations_depend_only_on_what_wagtail_7_4_has():
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    wrong = []
    for (app, name), migration in loader.disk_migrations.items():
        if app not in ("wagtail_livechat", "home"):
            continue
        for dep_app, dep_name in migration.dependencies:
            last = WAGTAIL_74_LAST.get(dep_app)
            if last is not None and dep_name != "__first__" and int(dep_name[:4]) > last:
                wrong.append(f"{app}.{name} -> {dep_app}.{dep_name} (7.4's last: {last:04d})")
    assert not wrong, "Wagtail 7.4 lacks: " + "; ".join(wrong)
