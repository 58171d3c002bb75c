"""The built book as a reader's browser sees it, with nothing reachable but the site itself.

Builds the book as ``make book`` does, serves ``_build/html`` on 127.0.0.1 and opens every
page of the table of contents in Debian's Chromium (driven by Playwright; never
``playwright install``, which downloads a browser). Requests that leave the site are
recorded and aborted, as they would fail for a reader who is offline.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from playwright.sync_api import sync_playwright
from sphinx_external_toc.parsing import parse_toc_yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TOC = parse_toc_yaml(ROOT / "_toc.yml")
# Every page of the table of contents, plus index.html (a redirect to the root page).
PAGES = ["index.html"] + [f"{docname}.html" for docname in TOC]

pytestmark = pytest.mark.slow


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname in LOCAL_HOSTS


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


@pytest.fixture(scope="module")
def site() -> str:
    """Build the book like `make book`, serve it, and return the site's base URL."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    build = subprocess.run(
        [str(jupyter_book), "build", ".", "-W", "-n", "--keep-going"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    log = build.stdout[-6000:] + build.stderr[-6000:]
    assert build.returncode == 0, f"the book build failed (exit {build.returncode}):\n{log}"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing ({CHROMIUM}): install it with `make browser`.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.update(v for k, v in attrs.items() if k == "id" and v)
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])


@functools.cache
def fetch_ids(url: str) -> set[str] | int:
    """The ids on the page at ``url``, or the HTTP status if it is not 200."""
    try:
        with urllib.request.urlopen(url) as response:
            if response.status != 200:
                return response.status
            parser = _Ids()
            if response.headers.get_content_type() == "text/html":
                parser.feed(response.read().decode("utf-8", "replace"))
            return parser.ids
    except urllib.error.HTTPError as error:
        return error.code


# Text nodes outside code that still hold TeX delimiters: math that MathJax did not typeset.
RAW_TEX_JS = r"""() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const hits = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest("pre, code, script, style, textarea")) continue;
    if (/\\\(|\\\[|\$\$/.test(node.textContent)) hits.push(node.textContent.trim().slice(0, 80));
  }
  return hits;
}"""

# Images that did not load (lazy ones are made eager first, so that all are fetched).
BROKEN_IMAGES_JS = """async () => {
  const broken = [];
  for (const img of document.images) {
    img.loading = "eager";
    await img.decode().catch(() => {});
    if (img.naturalWidth === 0) broken.push(img.getAttribute("src"));
  }
  return broken;
}"""

# Widget outputs that no widget manager turned into controls, or that failed to render.
BROKEN_WIDGETS_JS = """() => {
  const broken = [];
  for (const s of document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]'))
    broken.push("widget view placeholder: " + s.textContent.trim().slice(0, 80));
  for (const w of document.querySelectorAll(".jupyter-widgets"))
    if (w.getBoundingClientRect().height === 0 || /Error displaying widget/.test(w.textContent))
      broken.push("unrendered .jupyter-widgets: " + w.outerHTML.slice(0, 80));
  for (const text of ["Loading widget", "Error displaying widget"])
    if (document.body.innerText.includes(text)) broken.push(`text "${text}"`);
  return broken;
}"""


def dead_links(hrefs: list[str]) -> list[str]:
    """Links to the local site whose page is not served, or whose #fragment is not on it."""
    dead = []
    for href in sorted({h for h in hrefs if urlsplit(h).hostname in LOCAL_HOSTS}):
        target, fragment = urldefrag(href)
        ids = fetch_ids(target)
        if isinstance(ids, int):
            dead.append(f"{href} (HTTP {ids})")
        elif fragment and unquote(fragment) not in ids:
            dead.append(f"{href} (no id {unquote(fragment)!r} on that page)")
    return dead


@pytest.mark.parametrize("path", PAGES)
def test_page_works_offline(browser, site, path):  # browser first: no Chromium, no build
    context = browser.new_context()
    outside, failed, js_errors = [], [], []
    context.route(lambda url: not is_local(url), lambda route: route.abort())
    page = context.new_page()
    page.on("request", lambda r: None if is_local(r.url) else outside.append(r.url))
    page.on("requestfailed", lambda r: is_local(r.url) and failed.append(f"{r.url} {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} HTTP {r.status}"))
    page.on("pageerror", lambda error: js_errors.append(str(error)))
    try:
        page.goto(site + path, wait_until="networkidle")
        if path == "index.html":  # a redirect to the root page
            page.wait_for_url(f"{site}{TOC.root.docname}.html", wait_until="networkidle")
        page.evaluate(
            "async () => { await window.MathJax?.startup?.promise; await document.fonts.ready; }"
        )
        # Everything wrong with the page, by kind, so that one run shows all of it.
        problems = {
            "raw TeX left in the text": page.evaluate(RAW_TEX_JS),
            "images that did not load": page.evaluate(BROKEN_IMAGES_JS),
            "broken widgets": page.evaluate(BROKEN_WIDGETS_JS),
            "dead internal links": dead_links(
                page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
            ),
        }
        if page.locator("div.cell").count():  # a notebook: offered for download as .ipynb
            offered = page.locator('a[href$=".ipynb"]').count()
            problems["notebook not offered"] = [] if offered else ["no link to an .ipynb"]
        if page.locator(".math").count():  # the page has math: MathJax 3 typeset all of it
            version = page.evaluate("() => window.MathJax?.version")
            problems["MathJax 3 not running"] = [] if str(version).startswith("3") else [version]
            problems["math not typeset"] = page.locator(
                ".math:not(:has(mjx-container))"
            ).all_text_contents()
            problems["TeX errors"] = page.locator("mjx-merror").all_text_contents()
        problems["requests that left the site"] = outside
        problems["failed requests"] = failed
        # Known and harmless: Sphinx 7.4 writes sphinx-thebe's inline config script twice.
        problems["JavaScript errors"] = [
            e for e in js_errors if "'THEBE_JS_URL' has already been declared" not in e
        ]
        report = [f"  {kind}: {items}" for kind, items in problems.items() if items]
        assert not report, f"{page.url.removeprefix(site)}:\n" + "\n".join(report)
    finally:
        context.close()


# --- Layout: what fits the column at 1280 px, and what a phone (390 px) can scroll ---------

# Display equations wider than their column at 1280 px (MathJax knows each one's TeX).
WIDE_EQUATIONS_JS = """() => {
  const wide = [];
  for (const item of window.MathJax?.startup?.document?.getMathItemsWithin(document.body) ?? []) {
    if (!item.display || !item.typesetRoot) continue;
    const math = item.typesetRoot.querySelector("mjx-math") ?? item.typesetRoot;
    const column = item.typesetRoot.parentElement;
    const style = getComputedStyle(column);
    const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    const room = column.clientWidth - padding;
    const width = math.getBoundingClientRect().width;
    if (width > room + 2)
      wide.push(`${Math.round(width)} px > ${Math.round(room)} px: ` +
                item.math.trim().replace(/\\s+/g, " ").slice(0, 70));
  }
  return wide;
}"""

# Code cells whose input scrolls sideways (hidden inputs are opened first: a reader can).
SCROLLING_CODE_JS = """() => {
  document.querySelectorAll("details").forEach(d => { d.open = true; });
  const scrolling = [];
  for (const pre of document.querySelectorAll("div.cell_input pre")) {
    if (pre.scrollWidth <= pre.clientWidth + 1) continue;
    const longest = pre.textContent.split("\\n").reduce((a, b) => (b.length > a.length ? b : a));
    scrolling.push(`${pre.scrollWidth} px in ${pre.clientWidth} px, ` +
                   `${longest.length} characters: ${longest.trim().slice(0, 50)}`);
  }
  return scrolling;
}"""

# Figures shown at less than 85 % of their natural width (the browser shrank them).
SHRUNK_FIGURES_JS = """async () => {
  const shrunk = [];
  const figures = [...document.querySelectorAll(".cell_output img")];
  for (const [i, img] of figures.entries()) {
    img.loading = "eager";
    await img.decode().catch(() => {});
    const shown = img.getBoundingClientRect().width;
    if (img.naturalWidth && shown < 0.85 * img.naturalWidth)
      shrunk.push(`figure ${i + 1} of ${figures.length} ` +
                  `(${img.getAttribute("src").split("/").pop().slice(0, 12)}…): ` +
                  `${Math.round(shown)} of ${img.naturalWidth} px ` +
                  `(${Math.round(100 * shown / img.naturalWidth)} %)`);
  }
  return shrunk;
}"""

# Elements that reach past a phone's viewport outside any horizontally scrollable box (only
# the outermost of nested ones), and whether the page itself scrolls sideways.
PHONE_OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const offenders = new Set();
  for (const el of document.body.querySelectorAll("*")) {
    const rect = el.getBoundingClientRect();
    if (!rect.width || (rect.right <= vw + 1 && rect.left >= -1)) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.position === "fixed") continue;
    let held = false, hidden = false;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.visibility === "hidden" || s.position === "fixed") { hidden = true; break; }
      // A scrollable box holds it; one that clips it (the theme's prev/next links) cannot
      // make the page wider either.
      if (/auto|scroll|hidden|clip/.test(s.overflowX)) { held = true; break; }
    }
    if (!held && !hidden) offenders.add(el);
  }
  const out = [];
  for (const el of offenders) {
    let outer = false;
    for (let a = el.parentElement; a; a = a.parentElement) if (offenders.has(a)) outer = true;
    if (outer) continue;
    const name = el.tagName.toLowerCase() + [...el.classList].map(c => "." + c).join("");
    const text = el.textContent.trim().replace(/\\s+/g, " ").slice(0, 40);
    out.push(`${name} (${Math.round(el.getBoundingClientRect().width)} px): ${text}`);
  }
  const page = document.documentElement.scrollWidth;
  if (page > vw + 1) out.push(`the page scrolls sideways: ${page} px in ${vw} px`);
  return out;
}"""


def open_page(browser, site: str, path: str, width: int):
    """A page of the site in a fresh context ``width`` px wide, typeset and with its fonts."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.route(lambda url: not is_local(url), lambda route: route.abort())
    page = context.new_page()
    page.goto(site + path, wait_until="networkidle")
    page.evaluate(
        "async () => { await window.MathJax?.startup?.promise; await document.fonts.ready; }"
    )
    return context, page


@pytest.mark.parametrize("path", PAGES[1:])  # index.html only redirects to the root page
def test_page_fits_the_column(browser, site, path):
    """At 1280 px nothing is wider than the text column (equations, code) and no figure is
    shrunk to fit it; at 390 px (a phone) only scrollable boxes are wider than the screen."""
    problems = {}
    context, page = open_page(browser, site, path, 1280)
    try:
        problems["display equations wider than the column at 1280 px"] = page.evaluate(
            WIDE_EQUATIONS_JS
        )
        problems["code cells that scroll sideways at 1280 px"] = page.evaluate(SCROLLING_CODE_JS)
        problems["figures shrunk below 85 % of their width at 1280 px"] = page.evaluate(
            SHRUNK_FIGURES_JS
        )
    finally:
        context.close()
    context, page = open_page(browser, site, path, 390)
    try:
        problems["wider than a 390 px screen, outside any scrollable box"] = page.evaluate(
            PHONE_OVERFLOW_JS
        )
    finally:
        context.close()
    report = [
        f"  {kind}:\n" + "\n".join(f"    {i}" for i in items)
        for kind, items in problems.items()
        if items
    ]
    assert not report, f"{path}:\n" + "\n".join(report)


# --- Launching a chapter elsewhere: Binder opens its .md, Colab its notebook in
# chapters/colab/, and the download installs lstmlib ----

CHAPTERS = [d for d in TOC if d.startswith("chapters/") and d != "chapters/exercises"]
REPOSITORY = "https://github.com/lstm-course/lstm-course"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_opens_elsewhere(site, docname):
    """The downloaded notebook installs lstmlib first (where it is missing) and keeps the
    build's outputs; the page's Binder button opens the chapter's source file, its Colab
    button the chapter's committed notebook."""
    notebook = json.loads((HTML / "_sources" / f"{docname}.ipynb").read_text("utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    first = "".join(code[0]["source"])
    assert 'if importlib.util.find_spec("lstmlib") is None:' in first, first
    assert f'%pip install -q "lstmlib[book] @ git+{REPOSITORY}"' in first, first
    assert not code[0].get("outputs"), "the build must never run the install cell"
    assert sum(len(cell.get("outputs", [])) for cell in code[1:]), "outputs were dropped"
    with urllib.request.urlopen(f"{site}{docname}.html") as response:
        page = response.read().decode("utf-8")
    binder = f"https://mybinder.org/v2/gh/lstm-course/lstm-course/main?urlpath=tree/{docname}.md"
    assert binder in page, "no Binder button for the chapter's .md"
    assert (ROOT / f"{docname}.md").is_file()
    name = docname.removeprefix("chapters/")
    colab = (
        "https://colab.research.google.com/github/lstm-course/lstm-course/blob/main/"
        f"chapters/colab/{name}.ipynb"
    )
    assert colab in page, "no Colab button for the chapter's notebook in chapters/colab/"
    assert (ROOT / "chapters" / "colab" / f"{name}.ipynb").is_file()
