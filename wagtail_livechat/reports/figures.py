"""The reports' arithmetic, as plain functions over plain values: percentiles
of durations, how a duration and a period read, cells safe in a spreadsheet."""

from __future__ import annotations

import math
from datetime import date, datetime

from django.utils import timezone
from django.utils.translation import gettext as _


def percentile(values, fraction: float) -> float | None:
    """The ``fraction`` (0 to 1) percentile of ``values``, interpolated
    linearly between the two nearest ranks: what PostgreSQL's
    ``percentile_cont`` answers, so the figures would not change if the
    database computed them. None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values) -> float | None:
    return percentile(values, 0.5)


def p90(values) -> float | None:
    return percentile(values, 0.9)


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end``; None if either is missing (never
    answered, not closed), and never below zero (clocks of two servers)."""
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def rounded(value: float | None) -> float | None:
    """Seconds as the exports give them: to a tenth."""
    return None if value is None else round(value, 1)


def duration(value: float | None) -> str:
    """Seconds as people read them: "45 s", "3 min 20 s", "2 h 5 min", "1 d 4 h"."""
    if value is None:
        return "—"
    total = round(value)
    if total < 60:
        return _("%(s)d s") % {"s": total}
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    days, hours = divmod(hours, 24)
    return _("%(d)d d %(h)d h") % {"d": days, "h": hours}


def period_label(value, period: str) -> str:
    """A truncated date as the reports name it: 2026-12-07 (a day, or the
    Monday of a week) or 2026-12 (a month). The database truncated it in the
    current time zone; an aware datetime is read in that zone too."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if not isinstance(value, date):
        return str(value)
    return value.strftime("%Y-%m") if period == "month" else value.isoformat()


def safe_cell(value):
    """A cell starting with = + - @ is text, not a formula, in a spreadsheet
    program (CSV injection); XLSX cells are typed as text by Wagtail."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
