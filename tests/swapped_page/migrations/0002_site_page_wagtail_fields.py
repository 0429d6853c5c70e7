# What 0001 leaves out (it refers to wagtailcore), and the page types.

import uuid

import django.db.models.deletion
from django.db import migrations, models
from wagtail.models import (
    BootstrapLocaleField,
    BootstrapTranslatableModel,
    BootstrapTranslationKeyField,
)


class Migration(migrations.Migration):
    dependencies = [
        ("swapped_page", "0001_initial"),
        ("wagtailcore", "0098_apitoken"),
        ("wagtail_livechat", "0005_config_generation"),
    ]

    operations = [
        # Wagtail's own migrations created the root page in this table (as
        # they do in wagtailcore.Page's): give it a locale and a translation
        # key before both are required, as wagtail.test.basepage does.
        BootstrapLocaleField("swapped_page.SitePage"),
        BootstrapTranslationKeyField("swapped_page.SitePage"),
        BootstrapTranslatableModel("swapped_page.SitePage"),
        migrations.AlterField(
            model_name="sitepage",
            name="locale",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="wagtailcore.locale",
                verbose_name="locale",
            ),
        ),
        migrations.AlterField(
            model_name="sitepage",
            name="translation_key",
            field=models.UUIDField(default=uuid.uuid4, editable=False),
        ),
        migrations.AddField(
            model_name="sitepage",
            name="latest_revision",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="wagtailcore.revision",
                verbose_name="latest revision",
            ),
        ),
        migrations.AddField(
            model_name="sitepage",
            name="live_revision",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="wagtailcore.revision",
                verbose_name="live revision",
            ),
        ),
        migrations.AlterUniqueTogether(
            name="sitepage",
            unique_together={("translation_key", "locale")},
        ),
        migrations.CreateModel(
            name="ArticlePage",
            fields=[
                (
                    "sitepage_ptr",
                    models.OneToOneField(
                        auto_created=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        parent_link=True,
                        primary_key=True,
                        serialize=False,
                        to="swapped_page.sitepage",
                    ),
                ),
                (
                    "livechat_mode",
                    models.CharField(
                        choices=[
                            ("inherit", "Follow the chatflows' targeting rules"),
                            ("chatflow", "Always show a specific chatflow"),
                            ("off", "No chat on this page"),
                        ],
                        default="inherit",
                        max_length=10,
                        verbose_name="chat on this page",
                    ),
                ),
                (
                    "livechat_chatflow",
                    models.ForeignKey(
                        blank=True,
                        help_text="Shown on this page while it is published.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="wagtail_livechat.chatflow",
                        verbose_name="chatflow",
                    ),
                ),
            ],
            options={"abstract": False},
            bases=("swapped_page.sitepage", models.Model),
        ),
    ]
