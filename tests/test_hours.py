"""Office hours: ``hours.is_open`` and ``Inbox.is_open``."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wagtail_livechat.hours import is_open

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
NINE_TO_FIVE = [(d, time(9), time(17)) for d in (MON, TUE, WED, THU, FRI)]


def utc(day, hour, minute=0):
    """A moment in the week of Monday 2 June 2025, in UTC."""
    return datetime(2025, 6, 2 + day, hour, minute, tzinfo=UTC)


@given(st.datetimes(timezones=st.just(UTC)), st.sampled_from(["UTC", "Pacific/Kiritimati"]))
def test_no_hours_is_always_open(now, zone):
    assert is_open([], zone, now)
    assert is_open(iter(()), zone, now)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(MON, 9), True),  # opening time is inclusive
        (utc(MON, 8, 59), False),
        (utc(WED, 12), True),
        (utc(FRI, 16, 59), True),
        (utc(FRI, 17), False),  # closing time is exclusive
        (utc(SAT, 12), False),
        (utc(SUN, 10), False),
    ],
)
def test_day_ranges(now, expected):
    assert is_open(NINE_TO_FIVE, "UTC", now) is expected


def test_several_ranges_on_one_day():
    hours = [(MON, time(9), time(12)), (MON, time(13), time(17))]
    assert is_open(hours, "UTC", utc(MON, 11, 59))
    assert not is_open(hours, "UTC", utc(MON, 12, 30))
    assert is_open(hours, "UTC", utc(MON, 13))
    assert not is_open(hours, "UTC", utc(TUE, 10))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(FRI, 21, 59), False),
        (utc(FRI, 22), True),
        (utc(FRI, 23, 59), True),
        (utc(SAT, 0), True),  # past midnight: still Friday's range
        (utc(SAT, 1, 59), True),
        (utc(SAT, 2), False),
        (utc(SAT, 22), False),  # no range starts on Saturday
        (utc(THU, 1), False),  # Wednesday has no range to run into Thursday
    ],
)
def test_overnight_range(now, expected):
    assert is_open([(FRI, time(22), time(2))], "UTC", now) is expected


def test_overnight_range_on_sunday_runs_into_monday():
    hours = [(SUN, time(20), time(4))]
    assert is_open(hours, "UTC", utc(SUN, 21))
    assert is_open(hours, "UTC", utc(MON + 7, 3))  # the next Monday
    assert is_open(hours, "UTC", utc(MON, 3))  # and the Monday before this Sunday
    assert not is_open(hours, "UTC", utc(MON, 5))
    assert not is_open(hours, "UTC", utc(SAT, 21))


def test_range_until_midnight():
    hours = [(MON, time(18), time(0))]
    assert is_open(hours, "UTC", utc(MON, 23, 59))
    assert not is_open(hours, "UTC", utc(MON, 17, 59))
    assert not is_open(hours, "UTC", utc(TUE, 0))


def test_hours_are_in_the_inbox_time_zone():
    # 9-17 in Amsterdam is 7-15 UTC in summer (CEST, +2).
    assert is_open(NINE_TO_FIVE, "Europe/Amsterdam", utc(MON, 7))
    assert not is_open(NINE_TO_FIVE, "Europe/Amsterdam", utc(MON, 6, 59))
    assert is_open(NINE_TO_FIVE, "Europe/Amsterdam", utc(MON, 14, 59))
    assert not is_open(NINE_TO_FIVE, "Europe/Amsterdam", utc(MON, 15))
    # and 8-16 UTC in winter (CET, +1).
    winter = datetime(2025, 1, 6, 8, tzinfo=UTC)  # a Monday
    assert is_open(NINE_TO_FIVE, "Europe/Amsterdam", winter)
    assert not is_open(NINE_TO_FIVE, "Europe/Amsterdam", winter - timedelta(minutes=1))


def test_time_zone_can_move_the_weekday():
    # Monday 23:00 UTC is already Tuesday 11:00 in Auckland (NZST, +12).
    hours = [(TUE, time(9), time(17))]
    assert is_open(hours, "Pacific/Auckland", utc(MON, 23))
    assert not is_open(hours, "UTC", utc(MON, 23))
    # Friday 20:00 in New York is Saturday 00:00 UTC (EDT, -4).
    friday_evening = [(FRI, time(19), time(21))]
    assert is_open(friday_evening, "America/New_York", utc(SAT, 0))
    assert not is_open(friday_evening, "UTC", utc(SAT, 0))


def test_now_in_another_zone_gives_the_same_answer():
    moment = utc(MON, 7, 30)
    same_moment = moment.astimezone(ZoneInfo("Asia/Tokyo"))
    for hours in (NINE_TO_FIVE, [(MON, time(22), time(8))]):
        for zone in ("UTC", "Europe/Amsterdam", "Asia/Tokyo"):
            assert is_open(hours, zone, moment) == is_open(hours, zone, same_moment)


@given(
    st.integers(0, 6),
    st.times(),
    st.times(),
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
)
def test_against_a_minute_by_minute_reference(weekday, opens, closes, now):
    """A range is open from its opening time on its day for its length,
    crossing midnight when it closes at or before it opens."""
    opens, closes = opens.replace(microsecond=0), closes.replace(microsecond=0)
    start = timedelta(hours=opens.hour, minutes=opens.minute, seconds=opens.second)
    end = timedelta(hours=closes.hour, minutes=closes.minute, seconds=closes.second)
    if end <= start:
        end += timedelta(days=1)
    # position of "now" in the week, measured from Monday 00:00
    into_week = timedelta(
        days=now.weekday(),
        hours=now.hour,
        minutes=now.minute,
        seconds=now.second,
        microseconds=now.microsecond,
    )
    day_start = timedelta(days=weekday)
    week = timedelta(days=7)
    expected = any(
        day_start + start <= into_week + shift < day_start + end for shift in (week * 0, week)
    )
    assert is_open([(weekday, opens, closes)], "UTC", now) is expected


# -- Inbox.is_open reads the inbox's own hours ---------------------------------


@pytest.mark.django_db
def test_inbox_is_open_uses_its_hours_and_zone():
    from wagtail_livechat.models import Inbox, OfficeHours

    inbox = Inbox.objects.create(name="Night desk", time_zone="Asia/Tokyo")
    assert inbox.is_open(utc(SAT, 3))  # no hours: always open
    OfficeHours.objects.create(inbox=inbox, weekday=MON, opens=time(22), closes=time(6))
    assert inbox.hours_table() == [(MON, time(22), time(6))]
    # Monday 22:00 in Tokyo is Monday 13:00 UTC
    assert inbox.is_open(utc(MON, 13))
    assert not inbox.is_open(utc(MON, 12, 59))
    # Tuesday 05:59 in Tokyo is Monday 20:59 UTC
    assert inbox.is_open(utc(MON, 20, 59))
    assert not inbox.is_open(utc(MON, 21))
