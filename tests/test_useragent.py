"""The user-agent parser, on real User-Agent headers of current browsers."""

import pytest

from wagtail_livechat.useragent import MAX_LENGTH, UserAgent, parse

REAL = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        ("Firefox 121", "Windows 10", "desktop"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        ("Chrome 120", "Windows 10", "desktop"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        ("Edge 120", "Windows 10", "desktop"),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.2 Safari/605.1.15",
        ("Safari 17", "macOS 10.15", "desktop"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
        ("Safari 17", "iOS 17.1", "mobile"),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/119.0.6045.169 Mobile/15E148 Safari/604.1",
        ("Chrome 119", "iOS 16.6", "tablet"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
        ("Firefox 121", "iOS 17.2", "mobile"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36",
        ("Chrome 120", "Android 10", "mobile"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        ("Samsung Internet 23", "Android 13", "mobile"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        ("Chrome 120", "Android 13", "tablet"),
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
        ("Opera 106", "Linux", "desktop"),
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        ("Firefox 121", "Linux", "desktop"),
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        ("Chrome 120", "ChromeOS", "desktop"),
    ),
    (
        "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
        ("Internet Explorer 11", "Windows 7", "desktop"),
    ),
    # Headless Chromium, as the browser tests run it.
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/131.0.6778.85 Safari/537.36",
        ("Chrome 131", "Linux", "desktop"),
    ),
]


@pytest.mark.parametrize(("header", "expected"), REAL)
def test_real_user_agents(header, expected):
    assert parse(header) == UserAgent(*expected)


def test_what_it_cannot_tell_stays_empty():
    assert parse("") == UserAgent("", "", "")
    assert parse(None) == UserAgent("", "", "")
    assert parse("curl/8.4.0") == UserAgent("", "", "desktop")


def test_a_huge_header_is_read_only_so_far():
    header = "Mozilla/5.0 " + "x" * 10_000 + " Firefox/121.0"
    assert parse(header).browser == ""  # past MAX_LENGTH: not read
    assert parse("Firefox/121.0 " + "x" * 10 * MAX_LENGTH).browser == "Firefox 121"
