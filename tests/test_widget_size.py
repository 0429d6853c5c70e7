"""The widget's budgets (benchmarks/README.md): at most 5 KB gzipped before
the visitor interacts (livechat.js, styles included) and 15 KB in all (with
chat.js). Measured as benchmarks/run.py does (gzip level 9), 1 KB = 1,000 bytes."""

import gzip
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "wagtail_livechat" / "static" / "wagtail_livechat"
LOADER = ["livechat.js"]
ALL = [*LOADER, "chat.js"]  # all it fetches (tests/browser/test_csp.py): its styles are in them


def gzipped(names):
    return sum(len(gzip.compress((STATIC / name).read_bytes(), 9)) for name in names)


def test_the_loader_is_at_most_5_kb_gzipped():
    assert gzipped(LOADER) <= 5_000


def test_the_whole_widget_is_at_most_15_kb_gzipped():
    assert gzipped(ALL) <= 15_000
