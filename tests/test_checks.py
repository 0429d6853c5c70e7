"""System checks of the app."""

from django.test import override_settings

from wagtail_livechat.checks import check_persistent_connections


def database(**fields):
    return {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:", **fields}}


def test_warns_when_every_frame_would_reconnect():
    with override_settings(DATABASES=database()):
        (warning,) = check_persistent_connections()
    assert warning.id == "wagtail_livechat.W001"
    assert "CONN_MAX_AGE" in warning.hint


def test_quiet_with_persistent_connections_or_a_pool():
    with override_settings(DATABASES=database(CONN_MAX_AGE=600)):
        assert check_persistent_connections() == []
    with override_settings(DATABASES=database(CONN_MAX_AGE=None)):
        assert check_persistent_connections() == []
    with override_settings(DATABASES=database(OPTIONS={"pool": True})):
        assert check_persistent_connections() == []


def test_says_when_the_cache_is_per_process():
    from wagtail_livechat.checks import check_shared_cache

    local = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=local):
        (info,) = check_shared_cache()
    assert info.id == "wagtail_livechat.I002"
    shared = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
    with override_settings(CACHES=shared):
        assert check_shared_cache() == []
