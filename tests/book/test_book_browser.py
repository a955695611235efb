"""The built book in headless Chromium, served on localhost with no network.

Built once for this file, in a network namespace with no network at all where the machine
allows one (root, `unshare -n`), from three lectures (00-02), one assignment and the whole
library reference; COURSE_BOOK_FULL=1 builds and checks the whole course instead (which
`make site` builds and benchmarks/book_build.py times).
For every page reachable from the landing page: it loads with no console error and no
request that leaves the machine, every image has loaded, every formula is rendered by
MathJax; every link inside the book resolves (file and anchor); previous/next follow the
lecture order; a search for "backpropagation" finds lecture 02. Screenshots of the
landing page and of a lecture go to build/test-artifacts/.
"""

import html.parser
import os
import pathlib
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from book import build
from tests import browser

ROOT = pathlib.Path(__file__).resolve().parents[2]
FULL = os.environ.get("COURSE_BOOK_FULL") == "1"
LECTURES = [p.stem for p in build.lecture_paths()] if FULL else ["00_setup", "01_perceptron", "02_backprop"]
ASSIGNMENTS = [p.stem for p in build.assignment_paths()] if FULL else ["a1_backprop"]

PAGE_REPORT = """
const done = arguments[arguments.length - 1];
const typeset = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
typeset.then(() => done({
  broken_images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  images: document.images.length,
  math: document.querySelectorAll('span.math, div.math').length,
  unrendered: [...document.querySelectorAll('span.math, div.math')]
      .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60)),
  math_errors: document.querySelectorAll('mjx-merror').length,
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  prev: (document.querySelector('a.left-prev') || {}).href || null,
  next: (document.querySelector('a.right-next') || {}).href || null,
}), e => done({failed: String(e)}));
"""


def no_network() -> list[str]:
    """A command prefix that runs a program with no network at all, or [] where there is none."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n"]
    return []


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    pytest.importorskip("sphinx", reason="Sphinx is not installed (it comes with .[dev] or .[site])")
    try:
        build.find_mathjax()
    except build.BookError as exc:
        pytest.skip(f"no local MathJax: {exc}")
    out = tmp_path_factory.mktemp("book") / "site"
    lectures = [str(ROOT / "notebooks" / f"{name}.ipynb") for name in LECTURES]
    assignments = [str(p) for p in build.assignment_paths() if p.stem in ASSIGNMENTS]
    cmd = [*no_network(), sys.executable, "-m", "book.build", "--out", str(out),
           "--lectures", *lectures, "--assignments", *assignments]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "book built in" in result.stdout
    return out


@pytest.fixture(scope="module")
def site(book):
    with browser.chromium() as driver, browser.serve(book) as base:
        driver.set_script_timeout(60)
        yield driver, base


def page_name(url, base):
    return urllib.parse.urlsplit(url).path[len(urllib.parse.urlsplit(base).path):] or "index.html"


def crawl(driver, base):
    """Visit every page of the book reachable from the landing page; {page: report}."""
    reports, queue = {}, ["index.html", "search.html", "genindex.html", "py-modindex.html"]
    while queue:
        name = queue.pop(0)
        if name in reports:
            continue
        driver.get(base + name)
        report = driver.execute_async_script(PAGE_REPORT)
        report["errors"] = browser.console_errors(driver)
        report["outside"] = [u for u in browser.requested_urls(driver) if browser.leaves_machine(u)]
        reports[name] = report
        for link in report.get("links", []):
            if link.startswith(base):
                target = page_name(link.split("#")[0].split("?")[0], base)
                if target.endswith(".html") and target not in reports:
                    queue.append(target)
    return reports


@pytest.fixture(scope="module")
def pages(site):
    driver, base = site
    return crawl(driver, base)


def test_the_book_has_its_pages(pages):
    names = set(pages)
    assert {"index.html", "reference.html", "search.html", "genindex.html"} <= names
    assert {f"lectures/{n}.html" for n in LECTURES} | {f"assignments/{n}.html" for n in ASSIGNMENTS} <= names
    assert {"reference/config.html", "reference/data.html", "reference/models.html"} <= names


def test_every_page_loads_cleanly(pages):
    problems = {}
    for name, r in pages.items():
        bad = {k: r[k] for k in ("failed", "errors", "outside", "broken_images", "unrendered") if r.get(k)}
        if r.get("math_errors"):
            bad["math_errors"] = r["math_errors"]
        if bad:
            problems[name] = bad
    assert not problems, problems


def test_lectures_show_figures_and_formulas(pages):
    lecture = pages["lectures/02_backprop.html"]
    assert lecture["images"] >= 3 and lecture["math"] >= 10 and not lecture["unrendered"]


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(v for k, v in attrs if k in ("id", "name") and v)


def test_every_link_inside_the_book_resolves(pages, site):
    _, base = site
    targets = {link for r in pages.values() for link in r["links"] if link.startswith(base)}
    ids, broken = {}, []
    for link in sorted(targets):
        url, _, fragment = link.partition("#")
        url = url.split("?")[0]
        if url not in ids:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    body = response.read()
            except OSError as exc:
                broken.append(f"{link}: {exc}")
                ids[url] = None
                continue
            parser = _Ids()
            if url.endswith(".html") or url.endswith("/"):
                parser.feed(body.decode("utf-8", "replace"))
            ids[url] = parser.ids
        if fragment and ids[url] is not None and url.endswith(".html") and \
                urllib.parse.unquote(fragment) not in ids[url]:
            broken.append(f"{link}: no element with id {fragment!r}")
    assert len(targets) > 50 and not broken, broken


def test_previous_and_next_follow_the_lecture_order(pages, site):
    _, base = site
    order = ["index.html", *[f"lectures/{n}.html" for n in LECTURES], *[f"assignments/{n}.html" for n in ASSIGNMENTS],
             "reference.html"]
    for before, page, after in zip(order, order[1:], order[2:]):
        assert page_name(pages[page]["prev"], base) == before, page
        assert page_name(pages[page]["next"], base) == after, page


def test_built_with_no_network():
    if not no_network():
        pytest.skip("no network namespace here (needs root and unshare): the book was built with the network up")


def test_download_link_serves_the_committed_notebook(book):
    page = (book / "lectures" / "02_backprop.html").read_text(encoding="utf-8")
    assert 'href="../_notebooks/lectures/02_backprop.ipynb"' in page.replace("'", '"')
    committed = (ROOT / "notebooks" / "02_backprop.ipynb").read_bytes()
    assert (book / "_notebooks" / "lectures" / "02_backprop.ipynb").read_bytes() == committed
    assert "http://localhost:8888/lab/tree/notebooks/02_backprop.ipynb" in page
    # nbval's markers are in the notebook, not on the page
    assert b"# NBVAL_CHECK_OUTPUT" in committed and "NBVAL_" not in page


def test_each_lecture_page_shows_its_profile_line(book):
    for name in LECTURES:
        page = (book / "lectures" / f"{name}.html").read_text(encoding="utf-8")
        banner = re.search(r"<code class='course-setup-line'>([^<]*)</code>", page)
        assert banner and re.match(r"course_lib setup: profile=(cpu|gpu) backend=\w+ device=", banner.group(1)), name


def test_no_page_loads_anything_from_outside(book):
    """Scripts, styles, images and fonts are all in the book (the browser test sees requests; this sees the files)."""
    outside = re.compile(r"""<(?:script|img|iframe)[^>]*\ssrc=["']?(?:https?:)?//|<link[^>]*\shref=["']?(?:https?:)?//""")
    found = [f"{p.relative_to(book)}: {m.group(0)[:80]}" for p in book.rglob("*.html")
             for m in outside.finditer(p.read_text(encoding="utf-8"))]
    assert not found, found
    assert (book / "_static" / "mathjax" / build.MATHJAX_ENTRY).is_file()


def test_search_finds_the_lecture(site):
    from selenium.webdriver.support.ui import WebDriverWait

    driver, base = site
    driver.get(base + "search.html?q=backpropagation")
    links = WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('#search-results a')].map(a => a.href)") or None)
    assert any(link.split("?")[0].endswith("lectures/02_backprop.html") for link in links), links
    assert not browser.console_errors(driver)


def test_screenshots_of_the_landing_page_and_a_lecture(site):
    driver, base = site
    driver.get(base + "index.html")
    landing = browser.screenshot(driver, "book-landing.png")
    driver.get(base + "lectures/02_backprop.html")
    driver.execute_async_script(PAGE_REPORT)
    lecture = browser.screenshot(driver, "book-lecture.png")
    driver.execute_script("document.querySelectorAll('.cell_output img')[0].scrollIntoView({block: 'center'})")
    figure = browser.screenshot(driver, "book-lecture-figure.png")
    for shot in (landing, lecture, figure):
        assert shot.stat().st_size > 20_000, f"{shot} looks empty"
