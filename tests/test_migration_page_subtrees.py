"""Migration 0013: the page subtrees of a chatflow move from a many-to-many
field to PageSubtree rows (for Wagtail's page chooser), drafts included."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("wagtail_livechat", "0012_attachments")]
AFTER = [("wagtail_livechat", "0013_page_subtrees")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps():
    # Two pages, made with today's models (a transactional test before this
    # one may have emptied the tables); going back to 0012 leaves pages be.
    from wagtail.models import Locale, Page

    Locale.objects.get_or_create(language_code="en")
    root = Page.get_first_root_node() or Page.add_root(title="Root", slug="root")
    if not root.get_children().exists():
        root.add_child(instance=Page(title="Home", slug="home"))
    apps = migrate(BEFORE)
    yield apps
    # Leave the database at the latest migration for the next tests.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_page_subtrees_and_drafts_keep_their_pages(old_apps):
    Page = old_apps.get_model("wagtailcore", "Page")
    Inbox = old_apps.get_model("wagtail_livechat", "Inbox")
    Chatflow = old_apps.get_model("wagtail_livechat", "Chatflow")
    Revision = old_apps.get_model("wagtailcore", "Revision")
    ContentType = old_apps.get_model("contenttypes", "ContentType")

    pages = list(Page.objects.order_by("pk")[:2])
    assert len(pages) == 2  # Wagtail's root and its first home page
    inbox = Inbox.objects.create(name="Migrated")
    chatflow = Chatflow.objects.create(name="Old", inbox=inbox, sort_order=1)
    # The through model itself: a historical model is no ClusterableModel, so
    # a ParentalManyToManyField's set() would wait for a save() that never writes.
    field = Chatflow._meta.get_field("target_pages")
    through = field.remote_field.through
    through.objects.bulk_create(
        through(
            **{
                f"{field.m2m_field_name()}_id": chatflow.pk,
                f"{field.m2m_reverse_field_name()}_id": p.pk,
            }
        )
        for p in pages
    )
    untouched = Chatflow.objects.create(name="Everywhere", inbox=inbox, sort_order=2)
    content_type, _ = ContentType.objects.get_or_create(
        app_label="wagtail_livechat", model="chatflow"
    )
    draft = Revision.objects.create(
        content_type=content_type,
        base_content_type=content_type,
        object_id=str(chatflow.pk),
        object_str="Old",
        content={"pk": chatflow.pk, "name": "Old draft", "target_pages": [pages[1].pk]},
        created_at=timezone.now(),  # a historical model has no save() to set it
    )

    new_apps = migrate(AFTER)
    PageSubtree = new_apps.get_model("wagtail_livechat", "PageSubtree")
    rows = PageSubtree.objects.order_by("chatflow_id", "sort_order")
    assert [(r.chatflow_id, r.page_id, r.sort_order) for r in rows] == [
        (chatflow.pk, pages[0].pk, 0),
        (chatflow.pk, pages[1].pk, 1),
    ]
    assert not PageSubtree.objects.filter(chatflow_id=untouched.pk).exists()
    content = new_apps.get_model("wagtailcore", "Revision").objects.get(pk=draft.pk).content
    assert "target_pages" not in content
    assert content["page_subtrees"] == [
        {"pk": None, "chatflow": chatflow.pk, "page": pages[1].pk, "sort_order": 0}
    ]

    # A draft saved before the migration publishes with its subtree.
    from wagtail.models import Revision as CurrentRevision

    from wagtail_livechat.models import Chatflow as CurrentChatflow

    old_draft = CurrentRevision.objects.get(pk=draft.pk).as_object()
    assert isinstance(old_draft, CurrentChatflow)
    assert [s.page_id for s in old_draft.page_subtrees.all()] == [pages[1].pk]

    # And back: the many-to-many field gets its pages again.
    old = migrate(BEFORE).get_model("wagtail_livechat", "Chatflow")
    through = old._meta.get_field("target_pages").remote_field.through
    column = f"{old._meta.get_field('target_pages').m2m_reverse_field_name()}_id"
    assert set(through.objects.values_list(column, flat=True)) == {p.pk for p in pages}
