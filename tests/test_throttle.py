"""The shared rate limit: counts per key and window, one cache client per
process, and a cache outage lets messages through instead of losing them."""

import pytest
from django.test import override_settings

from wagtail_livechat import throttle

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Nothing listens on port 1: a real connection refused, as when Redis is down.
UNREACHABLE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5},
    }
}


@override_settings(CACHES=LOCMEM)
def test_the_limit_counts_per_key():
    assert [throttle.allow("a", 3) for _ in range(5)] == [True, True, True, False, False]
    assert throttle.allow("b", 3)


@override_settings(CACHES=LOCMEM)
def test_a_new_window_opens_when_the_old_one_expires():
    for _ in range(3):
        throttle.allow("w", 2)
    assert not throttle.allow("w", 2)
    throttle._cache().delete("wagtail_livechat:rate:w")  # what expiry does
    assert throttle.allow("w", 2)


@override_settings(CACHES=LOCMEM)
def test_one_client_serves_every_call():
    first = throttle._cache()
    throttle.allow("x", 1)
    assert throttle._cache() is first


def test_a_settings_change_takes_a_new_client():
    with override_settings(CACHES=LOCMEM):
        first = throttle._cache()
    with override_settings(CACHES=LOCMEM):
        assert throttle._cache() is not first


@override_settings(CACHES=UNREACHABLE)
def test_an_unreachable_cache_allows(caplog):
    assert all(throttle.allow("down", 1) for _ in range(3))
    assert "unreachable" in caplog.text


@pytest.fixture(autouse=True)
def fresh_clients():
    throttle._clients.clear()
    yield
    throttle._clients.clear()
