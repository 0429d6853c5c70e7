"""axe-core in the browser tests.

``make axe`` (part of ``make test``) installs axe-core from the npm registry
into ``tests/browser/.axe``. It is served to the page from the page's own
origin (a route of the test's), so that it runs under the page's strict
Content-Security-Policy like the widget, with no policy bypassed. Without
it the test is skipped, except in CI, where it fails.
"""

from pathlib import Path
from urllib.parse import urljoin

from tests.browser.conftest import _unavailable

AXE = Path(__file__).resolve().parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
ROUTE = "/__tests__/axe.min.js"

RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" > ")),
  }));
}"""


def axe_violations(page):
    """axe's violations on the page as it is now: ``[{id, impact, help, nodes}]``."""
    if not AXE.is_file():
        _unavailable(f"{AXE} is missing: run `make axe` (npm install axe-core)")
    if not page.evaluate("() => !!window.axe"):
        page.route(
            f"**{ROUTE}", lambda route: route.fulfill(path=AXE, content_type="text/javascript")
        )
        page.add_script_tag(url=urljoin(page.url, ROUTE))
    return page.evaluate(RUN)
