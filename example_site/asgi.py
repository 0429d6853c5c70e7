"""ASGI entry point: HTTP through Django, websockets through the live chat."""

import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings.dev")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from wagtail_livechat.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application()})

# The sockets' database thread gives up the GIL at every SQLite statement and
# waits to get it back while the server's thread runs; by default it waits up
# to 5 ms each time. Under daphne, 250 conversations x 1 msg/s went from
# thousands of messages lost to none at 0.5 ms (benchmarks/README.md). A site
# setting, not the app's: it is the whole process's.
sys.setswitchinterval(0.0005)
