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
