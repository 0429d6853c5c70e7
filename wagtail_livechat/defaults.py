"""Default texts of a chatflow, translated into its language at render time."""

from django.utils.translation import gettext_lazy as _

WELCOME_MESSAGE = _("<p>Hi! How can we help you today?</p>")
EMAIL_CAPTURE_TEXT = _("What is your email address? We'll reply there if you leave.")
SURVEY_QUESTION = _("How would you rate this conversation?")
COOKIE_CONSENT_TEXT = _("This chat stores a cookie to remember your conversation. Do you accept?")
DATA_CONSENT_TEXT = _(
    "We store what you write in this chat, and your email address if you give "
    "it, to answer you. You can ask us to delete it at any time."
)
