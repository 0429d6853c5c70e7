"""Structured logs of this process's websockets, on the ``wagtail_livechat``
logger: each line says ``key=value`` and carries the same in ``extra`` (for
a JSON formatter), with ``event`` naming what happened.

- ``socket_opened`` / ``socket_closed`` (DEBUG: one a socket), and
  ``socket_refused`` (WARNING: the process or a client address was full);
- ``socket_counts`` (INFO): open sockets per side, and how many opened,
  closed and were refused since the last such line; at most once every
  ``WAGTAIL_LIVECHAT_LOG_COUNTS_EVERY`` seconds, written when sockets come,
  go or ping;
- ``socket_error`` (WARNING/ERROR): what failed on a socket's path.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from .conf import conf

log = logging.getLogger("wagtail_livechat")

_open: Counter = Counter()  # side -> open sockets of this process
_since: Counter = Counter()  # opened / closed / refused since the last counts line
_last_counts = time.monotonic()


def open_sockets() -> dict[str, int]:
    return {side: n for side, n in _open.items() if n}


def _line(level, event, **fields):
    if log.isEnabledFor(level):
        text = " ".join(f"{key}={value}" for key, value in fields.items())
        log.log(level, "livechat %s %s", event, text, extra={"event": event, **fields})


def opened(side: str) -> None:
    _open[side] += 1
    _since["opened"] += 1
    _line(logging.DEBUG, "socket_opened", side=side, open=_open[side])
    tick()


def closed(side: str, code) -> None:
    _open[side] -= 1
    _since["closed"] += 1
    _line(logging.DEBUG, "socket_closed", side=side, code=code, open=_open[side])
    tick()


def refused(side: str, reason: str) -> None:
    _since["refused"] += 1
    _line(logging.WARNING, "socket_refused", side=side, reason=reason, open=sum(_open.values()))
    tick()


def error(what: str, exc_info=True, level=logging.WARNING, **fields) -> None:
    if log.isEnabledFor(level):
        text = " ".join(f"{key}={value}" for key, value in {"what": what, **fields}.items())
        log.log(
            level,
            "livechat socket_error %s",
            text,
            exc_info=exc_info,
            extra={"event": "socket_error", "what": what, **fields},
        )


def tick(now: float | None = None) -> bool:
    """Log the counts if the last line is old enough; True if it did."""
    global _last_counts
    now = time.monotonic() if now is None else now
    if now - _last_counts < conf.LOG_COUNTS_EVERY:
        return False
    _last_counts = now
    sides = {f"open_{side}": _open[side] for side in ("visitor", "agent")}
    _line(
        logging.INFO,
        "socket_counts",
        open=sum(_open.values()),
        **sides,
        opened=_since["opened"],
        closed=_since["closed"],
        refused=_since["refused"],
    )
    _since.clear()
    return True
