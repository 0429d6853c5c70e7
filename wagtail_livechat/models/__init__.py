"""The models of wagtail_livechat, one module per concept.

Import them from ``wagtail_livechat.models``. Inside the package, dependencies
point one way: ``inbox`` knows nothing else, ``chatflow`` knows ``inbox``,
``targeting`` knows ``chatflow``, ``page`` knows ``chatflow``; the
conversation side (``agent``, ``canned``, ``contact``, ``consent``,
``conversation``, ``survey``) may know all of those, and none of those
knows it.
"""

from .agent import AgentStatus
from .canned import CannedResponse
from .chatflow import Chatflow, ConfigGeneration
from .consent import ConsentRecord
from .contact import Contact, Visitor
from .conversation import Conversation, Message
from .inbox import Inbox, OfficeHours
from .page import LivechatPageMixin
from .survey import SurveyAnswer
from .targeting import PageSubtree, QueryRule, UrlRule, VisitorFilter

__all__ = [
    "AgentStatus",
    "CannedResponse",
    "ConsentRecord",
    "Contact",
    "Conversation",
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
]
