"""What differs between the Wagtail releases we support (7.4 and 8.x).

Each difference is one name here, used where the app needs it, so that the
rest of the code is written for Wagtail 8 and support for 7.4 can be dropped
by deleting this module's fallbacks. (The page model, which Wagtail 8 lets a
site swap, is :mod:`wagtail_livechat.pages`.)

* **Menu groups with a hook.** Wagtail 8's ``ViewSetGroup.submenu_hook`` adds
  the menu items that a hook of that name returns to the group's submenu (the
  agents' "Conversations" joins the "Live chat" menu that way), and orders
  the group's items by their ``menu_order``. Wagtail 7.4 has neither: its
  groups number their items 1, 2, 3 in the order of ``items`` and show
  nothing else. :class:`SubmenuHookMixin` does it on 7.4 as 8 does.
* **Permission policies.** Wagtail 8 looks a model's policy up in a registry
  (``wagtail.permissions.register_permission_policy``) and deprecates the
  viewset's ``permission_policy``; 7.4 has no registry and reads only the
  viewset's. :func:`register_permission_policy` registers where it can; the
  viewset names the policy too, for 7.4.
"""

from __future__ import annotations

from wagtail.admin.menu import (
    Menu,
    SubmenuMenuItem,
    WagtailMenuRegisterable,
    WagtailMenuRegisterableGroup,
)

try:
    from wagtail.permissions import register_permission_policy as _register_policy
except ImportError:  # Wagtail 7.4
    _register_policy = None


def register_permission_policy(model, policy) -> None:
    """Wagtail 8's registry of permission policies; nothing on 7.4."""
    if _register_policy is not None:
        _register_policy(model, policy, exact_class=True)


#: Wagtail 8 and later: menu groups take ``submenu_hook`` themselves.
HAS_SUBMENU_HOOK = "submenu_hook" in vars(WagtailMenuRegisterableGroup)


def _menu_order(registerable, position: int) -> int:
    """Wagtail 8's precedence: the registerable's own ``menu_order``, else its
    position in the group (7.4's default of 8999 counts as not set)."""
    order = getattr(registerable, "menu_order", None)
    if order is None or order == WagtailMenuRegisterable.menu_order:
        return position
    return order


def submenu_hook_menu_item(group, order=None) -> SubmenuMenuItem:
    """The group's menu item as Wagtail 8 builds it: its registerables ordered
    by their ``menu_order``, and whatever the group's ``submenu_hook`` adds."""
    items = [
        registerable.get_menu_item(order=_menu_order(registerable, position))
        for position, registerable in enumerate(group.registerables, start=1)
    ]
    own = group.menu_order
    return SubmenuMenuItem(
        label=group.menu_label,
        menu=Menu(register_hook_name=group.submenu_hook, items=items),
        name=group.menu_name,
        icon_name=group.menu_icon,
        order=next(o for o in (own, order, 8999) if o is not None),
    )


class SubmenuHookMixin:
    """Put first in the bases of a ``ViewSetGroup`` (or
    ``SnippetViewSetGroup``) that sets ``submenu_hook``; a no-op on Wagtail 8."""

    submenu_hook = None

    if not HAS_SUBMENU_HOOK:

        def get_menu_item(self, order=None):
            return submenu_hook_menu_item(self, order)
