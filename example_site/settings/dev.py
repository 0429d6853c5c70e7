from .base import *  # noqa: F403
from .base import MIDDLEWARE


def _one_line(record):
    """A suspicious request (a Host not in ALLOWED_HOSTS, too many fields, a
    body too large) is the client's error and is answered 400: one line says
    so. Django logs it with a traceback, which would bury the server's own
    errors in the log of any server open to the internet."""
    record.exc_info = None
    record.exc_text = None
    return True


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "one_line": {"()": "django.utils.log.CallbackFilter", "callback": _one_line},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)-8s %(name)s: %(message)s"},
    },
    "handlers": {
        "security": {
            "class": "logging.StreamHandler",
            "filters": ["one_line"],
            "formatter": "plain",
        },
    },
    "loggers": {
        # Every django.security.* logger (DisallowedHost, TooManyFieldsSent,
        # RequestDataTooBig, ...) ends here.
        "django.security": {"handlers": ["security"], "level": "WARNING", "propagate": False},
    },
}


def refuse_forms_in_other_charsets(get_response):
    """Answer 400 to a form that declares a charset other than UTF-8.

    Django refuses such a form with ``BadRequest`` when it is read (the CSRF
    check reads it), then reads it again in each error view it renders, all
    of which check the CSRF token too: the second refusal escapes as a 500.
    So it is refused here, before anything reads it."""
    from asgiref.sync import iscoroutinefunction
    from django.http import HttpResponseBadRequest

    def refused(request):
        if (
            request.method == "POST"
            and request.content_type == "application/x-www-form-urlencoded"
            and (request.encoding or "utf-8").lower() != "utf-8"
        ):
            return HttpResponseBadRequest("Forms are UTF-8.", content_type="text/plain")
        return None

    if iscoroutinefunction(get_response):

        async def middleware(request):
            return refused(request) or await get_response(request)

    else:

        def middleware(request):
            return refused(request) or get_response(request)

    return middleware


refuse_forms_in_other_charsets.sync_capable = True
refuse_forms_in_other_charsets.async_capable = True

MIDDLEWARE = ["example_site.settings.dev.refuse_forms_in_other_charsets", *MIDDLEWARE]
