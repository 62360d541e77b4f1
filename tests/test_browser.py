"""Real-browser tests: Playwright drives Debian's Chromium (``executable_path``; Playwright's own browser download is
not reachable here).

- JupyterLab: open a notebook as a learner would, *Run → Run All Cells* in FAST mode, wait until the kernel is
  idle, and check that no cell has an error and the figures are those a papermill run of the same file makes.
- The course website (``make site``): the landing page and a lesson page render with their figures, no console
  errors, and search works.

Without Chromium the tests skip with a one-line reason; in CI (``CI=true``) they must run (``.ci/run`` installs
Chromium). Screenshots go to ``build/screenshots/``.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from conftest import LAB_TOKEN

from course_utils.paths import BUILD_DIR, REPO_ROOT

pytestmark = pytest.mark.browser
SHOTS = BUILD_DIR / "screenshots"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]


def _chromium() -> str:
    path = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but no Chromium: .ci/run installs it (apt-get install chromium)")
    pytest.skip("no Chromium on this machine (apt-get install chromium) — browser tests skipped")


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra (make test)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def _stub_external(page, base: str, seen: list[str]) -> None:
    """The machine is offline: answer requests to other hosts (Binder badge, widget scripts) with an empty response,
    and note them, so that only the course's own resources can cause a console error."""

    def handle(route):
        url = route.request.url
        if url.startswith(base) or url.startswith("data:"):
            route.continue_()
        else:
            seen.append(url)
            kind = route.request.resource_type
            body, ctype = (("<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml") if kind == "image"
                           else ("", "application/javascript" if kind == "script" else "text/plain"))
            route.fulfill(status=200, body=body, content_type=ctype)

    page.route("**/*", handle)


# ---------------------------------------------------------------------------------------------------- JupyterLab

_STATE = """(path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  // the notebook panel of `path` (not whatever tab happens to be current: a restored workspace may open others)
  let nb = null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path) { nb = w; break; }
  }
  if (!nb || !nb.sessionContext || !nb.content || !nb.content.model) return null;
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  const cells = nb.content.model.cells;
  let code = 0, run = 0, errors = [], images = 0;
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    code++;
    if (c.executionCount !== null) run++;
    for (const o of c.outputs.toJSON()) {
      if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      if (o.data && o.data['image/png']) images++;
    }
  }
  const busy = document.querySelectorAll('.jp-InputArea-prompt').length > 0 &&
    Array.from(document.querySelectorAll('.jp-InputArea-prompt')).some(p => p.textContent.includes('*'));
  return {status: kernel ? kernel.status : 'none', code, run, errors, images, busy};
}"""


def _when(condition: str, path: str) -> str:
    """A JavaScript predicate on the state ``s`` of the notebook at ``path`` (see ``_STATE``)."""
    return f"() => {{ const s = ({_STATE})({json.dumps(path)}); return !!s && ({condition}); }}"


def _papermill_images(path: Path, tmp_path: Path) -> int:
    from course_utils.runner import run_notebook

    res = run_notebook(path, fast=True, out_dir=tmp_path)
    assert res.ok, res.error
    nb = json.loads((tmp_path / path.name).read_text())
    return sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.mark.parametrize("relpath", ["notebooks/00_index.ipynb", "learner/02_weight_pruning_pytorch.ipynb"])
def test_jupyterlab_runs_notebook_clean_in_a_real_browser(browser, lab_server, relpath, tmp_path):
    expected_images = _papermill_images(REPO_ROOT / relpath, tmp_path)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    # A workspace of its own, reset: JupyterLab would otherwise restore the tabs of the previous test's page.
    workspace = Path(relpath).stem.replace("_", "-")
    page.goto(f"{lab_server}/lab/workspaces/{workspace}/tree/{relpath}?reset&token={LAB_TOKEN}", timeout=120_000)
    page.wait_for_function(_when("s.status === 'idle'", relpath), timeout=180_000)
    page.wait_for_function(f"() => window.jupyterapp.shell.currentWidget && "
                           f"window.jupyterapp.shell.currentWidget.context && "
                           f"window.jupyterapp.shell.currentWidget.context.path === {json.dumps(relpath)}",
                           timeout=60_000)  # Run All acts on the current tab: it must be this notebook
    page.get_by_role("menuitem", name="Run", exact=True).click()  # the learner's way: Run → Run All Cells
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # Started within a minute: some cell has run or is running (a click that did nothing fails here, not in 15 min)
    page.wait_for_function(_when("s.run > 0 || s.busy || s.status === 'busy'", relpath), timeout=60_000,
                           polling=250)
    # Done when every code cell ran, or when one failed (Run All stops there: waiting on would only time out).
    page.wait_for_function(_when("(s.run === s.code || s.errors.length > 0) && s.status === 'idle' && !s.busy",
                                 relpath), timeout=900_000, polling=1000)
    state = page.evaluate(_STATE, relpath)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"lab-{Path(relpath).stem}.png"))
    page.close()
    assert state["errors"] == [], state["errors"]
    assert state["run"] == state["code"] > 0
    assert state["images"] == expected_images >= 1, (state["images"], expected_images)


# ------------------------------------------------------------------------------------------------------- the site

@pytest.fixture(scope="module")
def site():
    pytest.importorskip("myst_nb", reason="the site extra (make test installs it)")
    from course_utils import book

    pages, seconds = book.build_site(only=("00_index", "01_loss_before_and_after_pytorch"))
    print(f"site built in {seconds:.0f} s")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output readable
            pass

    handler = functools.partial(Quiet, directory=str(book.SITE_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()


def _own_errors(errors: list[str], external: list[str]) -> list[str]:
    """Console errors not caused by a stubbed external resource (offline: the Binder badge is empty, the widget
    scripts of the CDN too; an online reader gets those resources) or by MathJax 2's font probe: its HTML-CSS
    output declares ``@font-face {font-family: MathJax_Blank; src: url("about:blank")}``, which Chromium refuses
    (one CORS message naming about:blank, then one "net::ERR_FAILED" without a URL)."""
    own = [e for e in errors if not any(u in e for u in external) and "about:blank" not in e]
    for _ in range(sum("about:blank" in e for e in errors)):
        if "Failed to load resource: net::ERR_FAILED" in own:
            own.remove("Failed to load resource: net::ERR_FAILED")
    return own


def _open(browser, url: str, base: str):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors, external = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    _stub_external(page, base, external)
    page.goto(url, wait_until="networkidle")
    return page, errors, external


_IMAGES = """() => Array.from(document.querySelectorAll('img'))
  .filter(i => i.src.startsWith(location.origin))
  .map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0}))"""


_MATH_DONE = """() => window.MathJax && MathJax.Hub && MathJax.Hub.queue
  && MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0"""


def test_site_landing_page_and_lesson_render_with_figures_and_no_console_errors(browser, site):
    base, pages = site
    page, errors, external = _open(browser, f"{base}/index.html", base)
    assert "Pruning, Hands-On" in page.title()
    assert page.locator("table").first.is_visible() and page.get_by_text("TensorFlow track").first.is_visible()
    lesson_link = page.locator("a[href*='notebooks/01_loss_before_and_after_pytorch']").first
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "site-index.png"))
    lesson_link.click()
    page.wait_for_load_state("networkidle")
    assert "Loss before and after" in page.title()
    images = page.evaluate(_IMAGES)
    figures = [i for i in images if "/_images/" in i["src"]]
    assert figures and all(i["ok"] for i in images), images
    assert page.get_by_text("Outputs on this page").first.is_visible()
    # formulas are typeset offline, by the MathJax copied into the site (not a CDN): 01 states the constraint
    page.wait_for_function(_MATH_DONE, timeout=60_000)
    assert page.locator(".MathJax, .MathJax_Display, .MathJax_SVG").count() >= 1
    assert page.locator("span.math, div.math").count() >= 1
    assert not page.get_by_text("File failed to load").count(), "MathJax is missing a file"
    page.screenshot(path=str(SHOTS / "site-lesson.png"), full_page=False)
    page.close()
    assert _own_errors(errors, external) == [], errors
    assert all(not u.startswith(base) for u in external)


def test_site_search_finds_a_lesson(browser, site):
    base, _ = site
    page, errors, external = _open(browser, f"{base}/search.html?q=magnitude", base)
    page.wait_for_selector("#search-results li, .search li", timeout=30_000)
    assert page.locator("#search-results li, .search li").count() >= 1
    page.close()
    assert _own_errors(errors, external) == [], errors
