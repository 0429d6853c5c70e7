"""Settings of the app, with their defaults, read in one place.

Every name is ``WAGTAIL_LIVECHAT_<NAME>`` in Django settings; read them as
``conf.NAME`` so that ``override_settings`` in tests is honoured.
"""

from django.conf import settings

DEFAULTS = {
    # Cache alias that holds the compiled targeting rules and page facts.
    "CACHE": "default",
    # How long the compiled rules stay cached; changes invalidate them at once.
    "CACHE_TIMEOUT": 60 * 60,
    # How often, in seconds, a process checks the database for changes made
    # elsewhere (another process, a management command) to the widget config.
    "CONFIG_CHECK_EVERY": 1.0,
    # Longest URL the config endpoint accepts from the widget.
    "MAX_URL_LENGTH": 2048,
    # Longest chat message a visitor or an agent may send, in characters.
    "MAX_MESSAGE_LENGTH": 4000,
    # Largest websocket frame accepted, in bytes.
    "MAX_FRAME_BYTES": 16 * 1024,
    # Messages a visitor may send per minute before frames are refused.
    "VISITOR_RATE_PER_MINUTE": 30,
    # Origins allowed to open the visitor websocket; None means ALLOWED_HOSTS.
    "ALLOWED_ORIGINS": None,
    # Name of the first-party cookie set only once a visitor starts chatting.
    "VISITOR_COOKIE": "livechat_visitor",
    # Lifetime of the visitor identity, in seconds (a year).
    "VISITOR_MAX_AGE": 365 * 24 * 60 * 60,
    # Sender of notification and transcript emails; None: DEFAULT_FROM_EMAIL.
    "FROM_EMAIL": None,
    # Websockets one server process accepts; past it a new one is told
    # "busy" (close code 4013) and retries later, instead of everyone slowing.
    "MAX_SOCKETS": 10_000,
    # Run the sockets' database work in a pool of threads (each with its own
    # connection) instead of the one thread Channels uses by default, so that
    # commits overlap. None: on PostgreSQL only (SQLite serialises writers,
    # and waiting on its lock costs more than it gains).
    "PARALLEL_DATABASE": None,
    # Threads (each with its own connection) in that pool.
    "DATABASE_THREADS": 4,
    # Addresses or networks (CIDR) of the site's reverse proxies: only they
    # may say, in X-Forwarded-For, which client they forward for.
    "TRUSTED_PROXIES": (),
    # Websockets one client address may hold open in a process (a browser
    # tab holds one; an office behind one address holds many).
    "MAX_SOCKETS_PER_CLIENT": 50,
    # Seconds a visitor identification token (``identify()``) stays valid.
    "IDENTIFY_MAX_AGE": 60 * 60,
    # Identify Django's logged-in users (email, full name, pk) automatically.
    "IDENTIFY_USERS": False,
    # Defer loading the widget until window.WagtailLivechat.load() is called.
    "DEFER": False,
    # Seconds a webhook's receiver has to connect, and again to answer.
    "WEBHOOK_TIMEOUT": 5.0,
    # Attempts at one delivery (the first included) before it counts as failed.
    "WEBHOOK_MAX_ATTEMPTS": 6,
    # Seconds before the first retry; each next one waits twice as long ...
    "WEBHOOK_BACKOFF": 30.0,
    # ... but never longer than this.
    "WEBHOOK_BACKOFF_MAX": 60 * 60,
    # How often, in seconds, a process reads which events webhooks want (a
    # change made in the same process is seen at once).
    "WEBHOOK_CHECK_EVERY": 30.0,
    # Seconds the health endpoint waits for the channel layer's round trip.
    "HEALTH_TIMEOUT": 2.0,
    # Seconds between two logs of this process's socket counts (at most).
    "LOG_COUNTS_EVERY": 60.0,
    # What erasing a contact does to their conversations' messages:
    # "anonymise" (bodies replaced, conversations kept for the reports) or
    # "delete" (conversations, messages and survey answers removed).
    "ERASURE": "anonymise",
    # Keep an erased contact's consent records (the text shown, the choice,
    # the time) as proof that consent was given (GDPR art. 7(1)); the contact
    # row stays, emptied of everything that names the person.
    "ERASURE_KEEP_CONSENTS": True,
    # Days a closed conversation (with its messages and survey answer) is
    # kept after closing; None keeps everything. ``livechat_purge`` applies it.
    "RETENTION_DAYS": None,
    # The kinds of file visitors and agents may attach, recognised by their
    # content (wagtail_livechat/sniff.py); empty: attachments are off.
    "ATTACHMENT_KINDS": ("png", "jpeg", "gif", "webp", "pdf", "text", "docx", "xlsx", "pptx"),
    # Largest attachment, in bytes.
    "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    # Attachments one conversation may hold (both sides together).
    "ATTACHMENT_MAX_PER_CONVERSATION": 20,
    # Largest image accepted, in pixels (width x height): decoding is checked.
    "ATTACHMENT_MAX_PIXELS": 40_000_000,
}


class _Conf:
    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(name)
        return getattr(settings, f"WAGTAIL_LIVECHAT_{name}", DEFAULTS[name])


conf = _Conf()
