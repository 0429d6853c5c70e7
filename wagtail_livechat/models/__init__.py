"""The models of wagtail_livechat, one module per concept.

Import them from ``wagtail_livechat.models``. Inside the package, dependencies
point one way: ``inbox`` knows nothing else, ``chatflow`` knows ``inbox``,
``targeting`` knows ``chatflow``, ``page`` knows ``chatflow``; the
conversation side (``agent``, ``canned``, ``contact``, ``consent``,
``conversation``, ``label``, ``survey``) may know all of those, and none of
those knows it; ``attachment`` knows ``conversation`` (a message names its
attachment by string). ``webhook`` knows none of them (only the events'
names).
"""

from .agent import AgentStatus
from .attachment import Attachment, delete_conversation_files
from .canned import CannedResponse
from .chatflow import Chatflow, ConfigGeneration
from .consent import ConsentRecord
from .contact import Contact, Visitor
from .conversation import Conversation, Message
from .inbox import Inbox, OfficeHours
from .label import ConversationLabel
from .page import LivechatPageMixin
from .survey import SurveyAnswer
from .targeting import PageSubtree, QueryRule, UrlRule, VisitorFilter
from .webhook import Webhook, WebhookDelivery

__all__ = [
    "AgentStatus",
    "Attachment",
    "CannedResponse",
    "ConsentRecord",
    "Contact",
    "Conversation",
    "ConversationLabel",
    "Message",
    "Visitor",
    "Chatflow",
    "ConfigGeneration",
    "Inbox",
    "LivechatPageMixin",
    "OfficeHours",
    "PageSubtree",
    "SurveyAnswer",
    "QueryRule",
    "UrlRule",
    "VisitorFilter",
    "Webhook",
    "WebhookDelivery",
    "delete_conversation_files",
]
