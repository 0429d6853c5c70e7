"""Load the demo: pages, a knowledge base, two inboxes, a published chatflow
and the ``admin`` / ``admin`` user. Running it again changes nothing."""

from datetime import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from wagtail.models import Page, Site

from example_site.home.models import (
    ArticlePage,
    HomePage,
    JinjaPage,
    KnowledgeBasePage,
    StandardPage,
)
from wagtail_livechat.models import Chatflow, Inbox, OfficeHours, UrlRule

PAGES = [
    (StandardPage, "Pricing", "pricing", "<p>Plans for every team size.</p>"),
    (StandardPage, "About us", "about", "<p>We make websites that talk back.</p>"),
    (
        StandardPage,
        "Privacy policy",
        "privacy-policy",
        "<p>No chat here: the demo chatflow excludes this page.</p>",
    ),
    (JinjaPage, "Jinja page", "jinja", "<p>This page is rendered by Jinja2.</p>"),
]
ARTICLES = [
    ("Getting started", "getting-started", "<p>Create an account and log in.</p>"),
    (
        "Resetting your password",
        "reset-password",
        "<p>Use the password reset link.</p>",
    ),
    ("Billing and invoices", "billing", "<p>Invoices are sent every month.</p>"),
]


class Command(BaseCommand):
    help = "Load the example site's demo content (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        admin = self._admin()
        home = self._pages()
        sales, _support = self._inboxes(admin)
        self._chatflow(sales, home)
        self.stdout.write(self.style.SUCCESS("Demo content is ready (admin / admin)."))

    def _admin(self):
        User = get_user_model()
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            admin = User.objects.create_superuser(
                "admin", "admin@example.com", "admin", first_name="Alex"
            )
        return admin

    def _pages(self):
        home = HomePage.objects.first()
        if home is not None:
            return home
        root = Page.get_first_root_node()
        home = root.add_child(
            instance=HomePage(
                title="Home",
                slug="home-demo",
                body="<p>Welcome to the example site.</p>",
            )
        )
        site = Site.objects.filter(is_default_site=True).first()
        old_root = site.root_page if site else None
        if site:
            site.root_page = home
            site.save()
        else:
            Site.objects.create(hostname="localhost", root_page=home, is_default_site=True)
        if old_root and old_root.pk != home.pk and not old_root.get_children().exists():
            old_root.delete()
        for model, title, slug, body in PAGES:
            home.add_child(instance=model(title=title, slug=slug, body=body))
        help_root = home.add_child(
            instance=KnowledgeBasePage(
                title="Help", slug="help", body="<p>Answers to common questions.</p>"
            )
        )
        for title, slug, body in ARTICLES:
            help_root.add_child(instance=ArticlePage(title=title, slug=slug, body=body))
        return home

    def _inboxes(self, admin):
        sales, created = Inbox.objects.get_or_create(name="Sales")
        if created:
            sales.users.add(admin)
            sales.save()
        support, created = Inbox.objects.get_or_create(
            name="Support",
            defaults={"time_zone": "Europe/Amsterdam", "accent_color": "#0a7d5a"},
        )
        if created:
            support.users.add(admin)
            for weekday in range(5):
                OfficeHours(inbox=support, weekday=weekday, opens=time(9), closes=time(17)).save()
            support.save()
        return sales, support

    def _chatflow(self, inbox, home):
        if Chatflow.objects.filter(name="Website chat").exists():
            return
        chatflow = Chatflow(
            name="Website chat",
            inbox=inbox,
            team_name="Example team",
            chat_type=Chatflow.ChatType.KNOWLEDGE_BASE,
            knowledge_base_root=KnowledgeBasePage.objects.first(),
            live=False,
        )
        chatflow.url_rules = [
            UrlRule(kind="include", operator="all"),
            UrlRule(kind="exclude", operator="is", value="/privacy-policy/"),
        ]
        chatflow.save()
        chatflow.save_revision().publish()
