"""Office hours as a pure function: is an inbox open at a given moment?"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo


def is_open(hours: Iterable[tuple[int, time, time]], time_zone: str, now: datetime) -> bool:
    """``hours`` holds (weekday, opens, closes) with Monday as 0, in the inbox's
    time zone. An inbox with no hours at all is open around the clock; a
    closing time at or before the opening time runs past midnight."""
    hours = list(hours)
    if not hours:
        return True
    local = now.astimezone(ZoneInfo(time_zone))
    today, clock = local.weekday(), local.time().replace(tzinfo=None)
    yesterday = (today - 1) % 7
    for weekday, opens, closes in hours:
        if opens < closes:
            if weekday == today and opens <= clock < closes:
                return True
        else:  # overnight: e.g. 22:00-02:00
            if weekday == today and clock >= opens:
                return True
            if weekday == yesterday and clock < closes:
                return True
    return False
