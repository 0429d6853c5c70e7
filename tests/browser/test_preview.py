"""The chatflow's live preview in the Wagtail admin's side panel."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

WELCOME = "Hi! How can we help you today?"


def log_in(page):
    """As the superuser of the ``admin_user`` fixture: admin / admin."""
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/$"))


def wait_for_form_watch(page):
    """Wagtail marks the preview stale when its unsaved-changes controller
    sees the form differ from a snapshot it takes 2 s after the page loads;
    changes made before that snapshot would never reach the preview."""
    page.wait_for_function(
        """() => {
            const form = document.querySelector("[data-edit-form]");
            const app = window.wagtail && window.wagtail.app; // Wagtail's Stimulus app
            const unsaved = form && app && app.getControllerForElementAndIdentifier(form, "w-unsaved");
            return unsaved && (!("initialFormData" in unsaved) || !!unsaved.initialFormData);
        }"""
    )


def preview(page):
    """The preview iframe's content. Wagtail loads each update into a new
    iframe and then swaps it in; locators re-resolve, so expectations follow."""
    return page.locator("iframe.w-preview__iframe").last.content_frame


def test_chatflow_preview_shows_the_widget_and_follows_the_form(
    page, admin_user, demo, screenshots
):
    from wagtail_livechat.models import Chatflow

    chatflow = Chatflow.objects.get(name="Website chat")
    log_in(page)
    page.goto(f"/admin/livechat/chatflows/edit/{chatflow.pk}/")
    expect(page.get_by_role("heading", name="Website chat", exact=True)).to_be_visible()

    toggle = page.get_by_role("button", name="Toggle preview")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")

    frame = preview(page)
    root = frame.locator("#wagtail-livechat-root")
    expect(frame.get_by_role("heading", name="A page of your site")).to_be_visible()
    # The preview opens the chat at once, from the form's data (no config fetch).
    dialog = root.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(WELCOME)
    expect(dialog.get_by_role("heading", name="Example team")).to_be_visible()
    # The launcher, the chat being open, is the button that closes it; at the
    # preview's phone width the chat takes the whole frame, over it.
    expect(
        root.get_by_role("button", name="Close chat", expanded=True, include_hidden=True)
    ).to_have_count(1)
    page.screenshot(path=screenshots / "chatflow-preview.png")

    # The team name, on the Display tab: the preview follows without publishing.
    wait_for_form_watch(page)
    page.get_by_role("tab", name="Display").click()
    team_name = page.get_by_label("Team name")
    team_name.fill("Help desk")
    expect(preview(page).get_by_role("dialog").get_by_role("heading")).to_have_text("Help desk")
    # Updating the preview does not take the focus away from the form.
    expect(team_name).to_be_focused()

    # The welcome message, in the Draftail editor on the Build tab.
    page.get_by_role("tab", name="Build").click()
    editor = page.locator('[contenteditable="true"][aria-describedby="id_welcome_message-length"]')
    editor.click()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("Welcome to the help desk")
    expect(preview(page).get_by_role("dialog")).to_contain_text("Welcome to the help desk")
    expect(preview(page).get_by_role("dialog")).not_to_contain_text(WELCOME)
    expect(editor).to_be_focused()

    # Visitors still get the published chatflow.
    chatflow.refresh_from_db()
    assert chatflow.team_name == "Example team"
    assert "Welcome to the help desk" not in chatflow.welcome_message
