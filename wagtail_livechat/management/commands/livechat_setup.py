"""``manage.py livechat_setup``: the first inbox and chatflow of a site."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from ...models import Chatflow, Inbox, UrlRule


class Command(BaseCommand):
    help = (
        "Get the live chat going: create an inbox, make users its members (the "
        "given ones, or else every active superuser), and create and publish a "
        "chatflow that shows the chat on every page. Run it again at any time: "
        "what exists is kept as it is (an existing chatflow is not republished), "
        "what is missing is added."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--inbox",
            default="Website",
            metavar="NAME",
            help="The inbox to create or complete (default: %(default)s).",
        )
        parser.add_argument(
            "--user",
            action="append",
            dest="users",
            default=[],
            metavar="USERNAME",
            help=(
                "Make this user a member of the inbox; repeat for several. "
                "Default: every active superuser."
            ),
        )
        parser.add_argument(
            "--chatflow",
            default="Website chat",
            metavar="NAME",
            help="The chatflow to create and publish if missing (default: %(default)s).",
        )
        parser.add_argument(
            "--team-name",
            metavar="TEXT",
            help="The name the chat's heading shows (default: WAGTAIL_SITE_NAME, or the inbox's).",
        )
        parser.add_argument(
            "--no-chatflow",
            action="store_true",
            help="Only the inbox and its members; you will build the chatflow in the admin.",
        )

    @transaction.atomic
    def handle(self, *args, inbox, users, chatflow, team_name, no_chatflow, **options):
        members = self._users(users)
        box, created = Inbox.objects.get_or_create(name=inbox)
        self._say(created, f'Inbox "{box.name}"')

        current = set(box.users.values_list("pk", flat=True))
        joining = [user for user in members if user.pk not in current]
        for user in joining:
            box.users.add(user)
        if joining:
            box.save()  # ParentalManyToMany changes are kept until the inbox saves
        for user in members:
            name = user.get_username()
            if user in joining:
                self.stdout.write(self.style.SUCCESS(f"  + {name} is now a member"))
            else:
                self.stdout.write(f"  = {name} was a member")
            if not user.has_perm("wagtailadmin.access_admin"):
                self.stdout.write(
                    self.style.WARNING(
                        f"    {name} cannot open the Wagtail admin, so cannot answer: give "
                        'them the "Can access Wagtail admin" permission (e.g. through a group).'
                    )
                )
        if not members:
            self.stdout.write(
                self.style.WARNING(
                    "  No superuser to add. Create one (manage.py createsuperuser) or name "
                    "users with --user, then run this again."
                )
            )

        flow = None
        if not no_chatflow:
            flow = Chatflow.objects.filter(name=chatflow).first()
            if flow is None:
                flow = self._create_chatflow(chatflow, box, team_name)
                self.stdout.write(
                    self.style.SUCCESS(
                        f'Created and published chatflow "{flow.name}": on every page, '
                        f'answered from "{box.name}".'
                    )
                )
            else:
                state = "published" if flow.live else "not published (publish it in the admin)"
                self.stdout.write(f'Chatflow "{flow.name}" exists, {state}: left as it is.')

        self._next_steps(box, flow)

    def _users(self, usernames):
        User = get_user_model()
        if not usernames:
            return list(User.objects.filter(is_superuser=True, is_active=True).order_by("pk"))
        found = {
            u.get_username(): u
            for u in User.objects.filter(**{f"{User.USERNAME_FIELD}__in": usernames})
        }
        missing = [name for name in usernames if name not in found]
        if missing:
            raise CommandError(f"No such user: {', '.join(missing)}. Nothing was changed.")
        inactive = [name for name in usernames if not found[name].is_active]
        if inactive:
            raise CommandError(f"Inactive user: {', '.join(inactive)}. Nothing was changed.")
        return [found[name] for name in dict.fromkeys(usernames)]

    def _create_chatflow(self, name, inbox, team_name):
        flow = Chatflow(
            name=name,
            inbox=inbox,
            team_name=(team_name or getattr(settings, "WAGTAIL_SITE_NAME", "") or inbox.name)[
                : Chatflow._meta.get_field("team_name").max_length
            ],
            live=False,
        )
        flow.url_rules = [UrlRule(kind="include", operator=UrlRule.Operator.ALL)]
        flow.save()
        flow.save_revision().publish()
        flow.refresh_from_db()
        return flow

    def _say(self, created, what):
        if created:
            self.stdout.write(self.style.SUCCESS(f"Created {what}."))
        else:
            self.stdout.write(f"{what} exists.")

    def _next_steps(self, inbox, flow):
        def admin_url(name, *args):
            try:
                return reverse(name, args=args)
            except NoReverseMatch:  # the admin's URLs are not included (yet)
                return None

        steps = [
            "Add the widget to your base template, before </body>:\n"
            "      {% load wagtail_livechat %}{% livechat %}",
        ]
        if inbox_url := admin_url("wagtail_livechat_inbox:index"):
            steps.append(f"Answer visitors in the Wagtail admin: {inbox_url}")
        if flow and (flow_url := admin_url("wagtail_livechat_chatflows:edit", flow.pk)):
            steps.append(f"Change where and how the chat shows: {flow_url}")
        if inbox_url := admin_url("wagtail_livechat_inboxes:edit", inbox.pk):
            steps.append(f"Office hours, away message and colours of the inbox: {inbox_url}")
        steps.append("Check the setup: manage.py check (docs/integration.md explains each finding)")
        self.stdout.write("\nNext:")
        for number, step in enumerate(steps, 1):
            self.stdout.write(f"  {number}. {step}")
