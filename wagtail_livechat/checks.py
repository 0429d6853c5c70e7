"""System checks: the misconfigurations that would make the chat fail,
unsafe, slow or fragile. Each says what to do (docs/integration.md)."""

from dataclasses import dataclass

from django.conf import settings
from django.core.checks import Error, Info, Warning, register


@register()
def check_persistent_connections(app_configs=None, **kwargs):
    """Each websocket frame is a hop to the database thread, and Channels
    closes a connection older than ``CONN_MAX_AGE`` after every hop: with the
    default 0, every message opens new database connections."""
    found = []
    for alias, database in settings.DATABASES.items():
        pooled = bool((database.get("OPTIONS") or {}).get("pool"))
        if not pooled and database.get("CONN_MAX_AGE", 0) == 0:
            found.append(
                Warning(
                    f"DATABASES[{alias!r}] reconnects on every websocket frame.",
                    hint=(
                        "Set CONN_MAX_AGE (e.g. 600, or None) with CONN_HEALTH_CHECKS = True, "
                        "or use PostgreSQL connection pooling (OPTIONS['pool'])."
                    ),
                    id="wagtail_livechat.W001",
                )
            )
    return found


PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register()
def check_shared_cache(app_configs=None, **kwargs):
    """The rate limits and the compiled widget config live in the cache. A
    per-process cache is right for one process; with several, each keeps its
    own limits and compiles its own config (changes still reach every process
    within a second: the config's generation is in the database)."""
    from .conf import conf

    backend = settings.CACHES.get(conf.CACHE, {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        return [
            Info(
                f"WAGTAIL_LIVECHAT_CACHE ({conf.CACHE!r}) is per process ({backend}).",
                hint=(
                    "Fine for one server process. With several, use a shared cache (e.g. "
                    "Django's RedisCache) so that rate limits hold across them; the widget "
                    "config follows changes in every process either way."
                ),
                id="wagtail_livechat.I002",
            )
        ]
    return []


# -- The channel layer -------------------------------------------------------


def _layer_backend():
    """The class of the default channel layer, None when there is none, or
    the error importing it."""
    from channels import DEFAULT_CHANNEL_LAYER
    from django.utils.module_loading import import_string

    config = (getattr(settings, "CHANNEL_LAYERS", None) or {}).get(DEFAULT_CHANNEL_LAYER)
    if not config:
        return None
    try:
        return import_string(config.get("BACKEND", ""))
    except ImportError as error:
        return error


@register()
def check_channel_layer(app_configs=None, **kwargs):
    """Every socket joins groups on the channel layer, and every message is
    announced on it: without one, no socket can open. The in-memory layers
    (Channels' and ours) reach only the sockets of their own process."""
    from channels.layers import InMemoryChannelLayer

    backend = _layer_backend()
    if backend is None or isinstance(backend, ImportError):
        why = "is not configured" if backend is None else f"cannot be imported ({backend})"
        return [
            Error(
                f"The channel layer (CHANNEL_LAYERS['default']) {why}: no chat socket can open.",
                hint=(
                    "One server process: CHANNEL_LAYERS = {'default': {'BACKEND': "
                    "'channels.layers.InMemoryChannelLayer'}}. Several: "
                    "channels_redis.core.RedisChannelLayer (docs/integration.md)."
                ),
                id="wagtail_livechat.E003",
            )
        ]
    if issubclass(backend, InMemoryChannelLayer) and not settings.DEBUG:
        # DEBUG off: a production server, which often runs several processes
        # (workers, a WSGI side, management commands that publish).
        return [
            Warning(
                f"The channel layer ({backend.__module__}.{backend.__qualname__}) reaches "
                "the sockets of one process only.",
                hint=(
                    "Fine when exactly one ASGI process serves the site. With several "
                    "(workers, or HTTP on WSGI beside it), a message written in one is not "
                    "seen live in another: use channels_redis.core.RedisChannelLayer. "
                    "Running one process? Add 'wagtail_livechat.W004' to "
                    "SILENCED_SYSTEM_CHECKS."
                ),
                id="wagtail_livechat.W004",
            )
        ]
    return _check_redis_hosts(backend)


def _check_redis_hosts(backend) -> list:
    """channels-redis with redis-py 8's defaults: idle sockets die after 5 s
    and a process opens at most 100 connections (layers.redis_channel_layer)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:
        return []
    if not issubclass(backend, RedisChannelLayer):
        return []
    try:
        major = int(version("redis").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return []
    hosts = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts") or ["default"]
    unsafe = [
        host
        for host in hosts
        if major >= 8
        and (
            not isinstance(host, dict)
            or host.get("socket_timeout", 5) is not None
            or (host.get("max_connections") or 100) < 10_000
        )
    ]
    if not unsafe:
        return []
    return [
        Warning(
            "The Redis channel layer uses redis-py 8's connection defaults: a socket idle "
            "for 5 s dies (code 1011), and past 100 connections a process's sockets fail.",
            hint=(
                "CHANNEL_LAYERS = {'default': wagtail_livechat.layers.redis_channel_layer("
                "REDIS_URL)}, or give each host socket_timeout=None and a large "
                "max_connections (docs/integration.md)."
            ),
            id="wagtail_livechat.W011",
        )
    ]


# -- The ASGI application ----------------------------------------------------

# The paths the widget and the inbox open (config.boot_data, admin_views).
SOCKET_PATHS = {"visitor": "/ws/livechat/visitor/", "agent": "/ws/livechat/agent/"}


@dataclass
class _Route:
    """Where a socket's path leads in an ASGI application, and what it
    passes on the way."""

    consumer: type | None = None
    origin_checked: bool = False
    cookies: bool = False
    authenticated: bool = False
    opaque: object = None  # an application this walk cannot see into


def _allows_every_origin(validator) -> bool:
    return any(str(pattern).strip() == "*" for pattern in validator.allowed_origins)


def _follow(application, path: str) -> _Route:
    """Follow a websocket connection to ``path`` through the wrappers and
    routers Channels and this app provide, as they would route it."""
    from channels.auth import AuthMiddleware
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import OriginValidator
    from channels.sessions import CookieMiddleware
    from django.core.handlers.asgi import ASGIHandler

    from .origins import OriginCheck

    route = _Route()
    remaining = path.lstrip("/")
    node = application
    for _ in range(100):  # wrappers are few; a cycle is not an application
        if isinstance(node, ProtocolTypeRouter):
            node = node.application_mapping.get("websocket")
            if node is None:
                return route
        elif isinstance(node, URLRouter):
            for pattern in node.routes:
                match = pattern.pattern.match(remaining)
                if match:
                    remaining, node = match[0], pattern.callback
                    break
            else:
                return route
        elif isinstance(node, OriginCheck):
            route.origin_checked = True
            node = node.application
        elif isinstance(node, OriginValidator):
            route.origin_checked = route.origin_checked or not _allows_every_origin(node)
            node = node.application
        elif isinstance(node, ASGIHandler):  # Django's HTTP handler: no sockets
            return route
        elif hasattr(node, "consumer_class"):  # Consumer.as_asgi()
            route.consumer = node.consumer_class
            return route
        else:
            if isinstance(node, CookieMiddleware):
                route.cookies = True
            elif isinstance(node, AuthMiddleware):
                route.authenticated = True
            inner = next(
                (getattr(node, a) for a in ("inner", "application", "app") if hasattr(node, a)),
                None,
            )
            if inner is None:
                route.opaque = node
                return route
            node = inner
    route.opaque = node
    return route


def _asgi_application():
    """The application ASGI_APPLICATION names (importing it, as Channels'
    runserver does), or the error."""
    from channels.routing import get_default_application

    try:
        return get_default_application()
    except Exception as error:  # any failure of the site's module is the answer
        return error


def _describe(obj) -> str:
    """A function or class by its own name, anything else by its class's."""
    named = obj if hasattr(obj, "__qualname__") else type(obj)
    return f"{named.__module__}.{named.__qualname__}"


@register()
def check_asgi_application(app_configs=None, **kwargs):
    """The sockets are served by the site's ASGI application: it must route
    ``/ws/livechat/visitor/`` and ``/ws/livechat/agent/`` to the chat's
    consumers, behind an origin check (or any web page could open the agent
    socket with an agent's session cookie) and Channels' session
    authentication (agents are known by their Django session)."""
    from .consumers import AgentConsumer, VisitorConsumer

    guide = "See docs/integration.md for a complete asgi.py."
    if not getattr(settings, "ASGI_APPLICATION", None):
        return [
            Warning(
                "ASGI_APPLICATION is not set: nothing serves the chat's websockets.",
                hint=(
                    "Write an asgi.py whose application routes websockets through "
                    "wagtail_livechat.routing.websocket_application(), and set "
                    f"ASGI_APPLICATION = '<your project>.asgi.application'. {guide}"
                ),
                id="wagtail_livechat.W005",
            )
        ]
    application = _asgi_application()
    if isinstance(application, Exception):
        return [
            Error(
                f"ASGI_APPLICATION ({settings.ASGI_APPLICATION!r}) cannot be loaded: "
                f"{type(application).__name__}: {application}",
                hint=f"Set DJANGO_SETTINGS_MODULE before importing Django in asgi.py. {guide}",
                id="wagtail_livechat.E006",
            )
        ]
    found = []
    for name, consumer in (("visitor", VisitorConsumer), ("agent", AgentConsumer)):
        path = SOCKET_PATHS[name]
        route = _follow(application, path)
        if route.consumer is None or not issubclass(route.consumer, consumer):
            if route.opaque is not None:
                found.append(
                    Info(
                        f"Cannot see inside {_describe(route.opaque)} of ASGI_APPLICATION "
                        f"to check that it serves {path}.",
                        hint=(
                            "Make sure it routes the chat's sockets "
                            "(wagtail_livechat.routing.websocket_application()) behind an "
                            "origin check and AuthMiddlewareStack."
                        ),
                        id="wagtail_livechat.I010",
                    )
                )
                continue
            found.append(
                Warning(
                    f"ASGI_APPLICATION ({settings.ASGI_APPLICATION!r}) does not route the "
                    f"chat's {name} socket ({path}).",
                    hint=(
                        "Route websockets through wagtail_livechat.routing."
                        "websocket_application(), or mount wagtail_livechat.routing."
                        f"websocket_urlpatterns at the root of your URLRouter. {guide}"
                    ),
                    id="wagtail_livechat.W007",
                )
            )
            continue
        if not route.origin_checked:
            found.append(
                Error(
                    f"The chat's {name} socket ({path}) is served without an origin check: "
                    "any web page can open it"
                    + (" with an agent's session." if name == "agent" else "."),
                    hint=(
                        "Use wagtail_livechat.routing.websocket_application(), or wrap the "
                        "routes in wagtail_livechat.origins.OriginCheck (or Channels' "
                        "AllowedHostsOriginValidator, with no '*' in ALLOWED_HOSTS)."
                    ),
                    id="wagtail_livechat.E008",
                )
            )
        if not (route.authenticated if name == "agent" else route.cookies):
            needed = "sessions (agents cannot sign in)" if name == "agent" else "cookies"
            found.append(
                Warning(
                    f"The chat's {name} socket ({path}) is served without Channels' {needed}.",
                    hint=(
                        "Wrap the routes in channels.auth.AuthMiddlewareStack, as "
                        "wagtail_livechat.routing.websocket_application() does."
                    ),
                    id="wagtail_livechat.W009",
                )
            )
    return found
