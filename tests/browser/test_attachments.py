"""Attachments in the browser: a visitor attaches an image in the widget
(keyboard, a labelled button), the agent sees its thumbnail in the inbox
and downloads it; a refused file is said in the widget's live region; the
agent sends a document back."""

import pytest
from playwright.sync_api import expect

from tests import attachment_files as files
from tests.browser import test_chat_e2e as e2e
from tests.browser.axe import axe_violations
from wagtail_livechat.models import Attachment, Conversation

pytestmark = pytest.mark.browser

# The end-to-end tests' fixtures: the visitor's page and the agent's.
visitor = e2e.visitor
agent = e2e.agent


def attach_button(dialog):
    return dialog.get_by_role("button", name="Attach a file", exact=True)


def test_visitor_attaches_an_image_the_agent_sees_and_downloads_it(
    visitor, agent, demo, screenshots, tmp_path
):
    image = files.image(size=(120, 80), colour="blue")
    dialog = e2e.open_chat(visitor, "/")
    # No file before the visitor has an identity and a conversation.
    expect(attach_button(dialog)).to_be_hidden()
    e2e.send(dialog, "Here is a screenshot")

    button = attach_button(dialog)
    expect(button).to_be_visible()
    with visitor.expect_file_chooser() as chooser:
        button.press("Enter")  # keyboard operable: focused, then Enter
    chooser.value.set_files(
        files=[{"name": "screen.png", "mimeType": "image/png", "buffer": image}]
    )
    thumb = e2e.thread(dialog).locator(".msg.visitor img")
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_attribute("alt", "screen.png")
    expect(thumb).to_have_attribute("width", "120")
    # The image loaded (same origin, under the strict CSP) and has its size.
    e2e.wait_for(
        visitor,
        lambda: thumb.evaluate("img => img.complete && img.naturalWidth") == 120,
        "the thumbnail in the widget",
    )
    expect(e2e.thread(dialog).locator(".msg.pending, .msg.failed")).to_have_count(0)
    attachment = Attachment.objects.get()
    assert attachment.kind == "image" and attachment.name == "screen.png"
    assert axe_violations(visitor) == []
    visitor.screenshot(path=screenshots / "widget-attachment.png")

    # The agent sees the thumbnail in the thread and downloads the file.
    e2e.log_in(agent)
    conversation = Conversation.objects.get()
    agent_log = e2e.open_conversation(agent, conversation)
    agent_thumb = agent_log.locator(".livechat-message--visitor img")
    expect(agent_thumb).to_have_count(1)
    e2e.wait_for(
        agent,
        lambda: agent_thumb.evaluate("img => img.complete && img.naturalWidth") == 120,
        "the thumbnail in the inbox",
    )
    link = agent_log.get_by_role("link", name="Download screen.png")
    with agent.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "screen.png"
    saved = tmp_path / "screen.png"
    download.value.save_as(saved)
    assert saved.read_bytes() == image
    agent.screenshot(path=screenshots / "inbox-attachment.png")

    # A second image arrives live in the open conversation (built by inbox.js).
    with visitor.expect_file_chooser() as chooser:
        attach_button(dialog).click()
    chooser.value.set_files(
        files=[{"name": "second.png", "mimeType": "image/png", "buffer": files.image()}]
    )
    expect(agent_log.locator(".livechat-message--visitor img")).to_have_count(2)
    expect(agent_log.get_by_role("link", name="Download second.png")).to_be_visible()


def test_a_refused_file_is_announced_and_the_agent_sends_a_document(visitor, agent, demo):
    dialog = e2e.open_chat(visitor, "/")
    e2e.send(dialog, "Hello")
    with visitor.expect_file_chooser() as chooser:
        attach_button(dialog).click()
    # An executable, named and typed as an image: its bytes decide.
    chooser.value.set_files(
        files=[{"name": "cat.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00" * 64}]
    )
    error = e2e.thread(dialog).locator(".err")
    expect(error).to_have_text("This type of file cannot be sent.")
    # In the log, a live region: screen readers hear it.
    expect(e2e.thread(dialog)).to_have_attribute("aria-live", "polite")
    assert Attachment.objects.count() == 0

    e2e.log_in(agent)
    agent_log = e2e.open_conversation(agent, Conversation.objects.get())
    with agent.expect_file_chooser() as chooser:
        agent.get_by_role("button", name="Attach a file").click()
    chooser.value.set_files(
        files=[{"name": "prices.pdf", "mimeType": "application/pdf", "buffer": files.PDF}]
    )
    expect(agent_log.get_by_role("link", name="Download prices.pdf (1 KB)")).to_be_visible()
    # The visitor gets it as a download link, no thumbnail.
    link = e2e.messages(dialog, "agent").get_by_role("link")
    expect(link).to_have_text("prices.pdf (1 KB)")
    expect(link).to_have_attribute("download", "prices.pdf")
    with visitor.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "prices.pdf"
