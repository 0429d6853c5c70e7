"""Browser, operating system and device from a User-Agent header.

A small, pure parser for what an agent wants to know at a glance ("Firefox
121 on Windows 10, desktop"), not a device database: the common browsers and
systems, in the order that tells them apart (Edge and Opera say "Chrome",
Chrome says "Safari"). Anything else is left empty, never guessed. A header
is at most ``MAX_LENGTH`` characters read, so that a hostile one costs
nothing.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MAX_LENGTH = 512

# (name, pattern whose group 1 is the version), first match wins.
BROWSERS = (
    ("Edge", r"(?:Edg|EdgA|EdgiOS|Edge)/(\d+)"),
    ("Opera", r"(?:OPR|OPiOS)/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)(?:\.\d+)*(?: Mobile/\w+)? Safari/"),
    ("Internet Explorer", r"(?:MSIE |Trident/.*rv:)(\d+)"),
)

WINDOWS = {"10.0": "10", "6.3": "8.1", "6.2": "8", "6.1": "7", "6.0": "Vista", "5.1": "XP"}


class UserAgent(NamedTuple):
    browser: str  # "Firefox 121", or ""
    os: str  # "Windows 10", "iOS 17.1", "macOS 10.15", or ""
    device: str  # "desktop", "tablet", "mobile", or "" (no header)


def _os(ua: str) -> str:
    if match := re.search(r"Windows NT (\d+\.\d+)", ua):
        return f"Windows {WINDOWS.get(match[1], match[1])}"
    if match := re.search(r"(?:iPhone|CPU) OS (\d+)(?:_(\d+))?", ua):
        return "iOS " + ".".join(filter(None, match.groups()))
    if match := re.search(r"Android (\d+(?:\.\d+)?)", ua):
        return f"Android {match[1]}"
    if "Android" in ua:
        return "Android"
    if "CrOS" in ua:
        return "ChromeOS"
    if match := re.search(r"Mac OS X (\d+)[_.](\d+)", ua):
        return f"macOS {match[1]}.{match[2]}"
    if "Macintosh" in ua:
        return "macOS"
    if "Linux" in ua or "X11" in ua:
        return "Linux"
    return ""


def _device(ua: str) -> str:
    if re.search(r"iPad|Tablet|Kindle|Silk/", ua) or ("Android" in ua and "Mobile" not in ua):
        return "tablet"
    if re.search(r"Mobi|iPhone|iPod|Windows Phone", ua):
        return "mobile"
    return "desktop"


def parse(header: str | None) -> UserAgent:
    """What a User-Agent header says; empty parts where it does not say."""
    ua = (header or "")[:MAX_LENGTH]
    if not ua.strip():
        return UserAgent("", "", "")
    browser = ""
    for name, pattern in BROWSERS:
        if match := re.search(pattern, ua):
            browser = f"{name} {match[1]}"
            break
    return UserAgent(browser, _os(ua), _device(ua))
