"""Headless Chromium for the tests of the book and of JupyterLab, through Selenium and the
system's chromedriver (Debian's packages chromium and chromium-driver; `.ci/run` installs
them). Nothing is downloaded: Selenium is given both paths, so its driver manager never runs.

Tests that need the browser call `chromium()` and skip, saying why, where it is missing.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import pathlib
import shutil
import socket
import tempfile
import threading
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Where the tests leave screenshots for people to look at.
ARTIFACTS = pathlib.Path(os.environ.get("COURSE_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts"))

# What the closed network here needs: no background connections to Google's services, no QUIC.
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                  "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-extensions",
                  "--disable-features=Translate,OptimizationHints,MediaRouter", "--window-size=1400,1000")


def _which(env: str, *names: str) -> str | None:
    if os.environ.get(env):
        return os.environ[env] if os.access(os.environ[env], os.X_OK) else None
    return next((shutil.which(n) for n in names if shutil.which(n)), None)


def missing() -> str | None:
    """Why no headless browser test can run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it comes with .[dev])"
    if not _which("COURSE_CHROMIUM", "chromium", "chromium-browser", "google-chrome"):
        return "no Chromium installed (Debian: apt-get install chromium chromium-driver; or set COURSE_CHROMIUM)"
    if not _which("COURSE_CHROMEDRIVER", "chromedriver"):
        return "no chromedriver installed (Debian: apt-get install chromium-driver; or set COURSE_CHROMEDRIVER)"
    return None


@contextlib.contextmanager
def chromium():
    """A headless Chromium driven by Selenium, logging the console and the network; skips if missing."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="course-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = _which("COURSE_CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")
    driver = webdriver.Chrome(service=Service(_which("COURSE_CHROMEDRIVER", "chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver) -> list[str]:
    """The console's errors since the last call (also failed loads, which Chromium logs there)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for since the last call, from Chromium's network log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def leaves_machine(url: str) -> bool:
    """True for a request to anywhere but this machine (data: and blob: URLs stay in the page)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "chrome-extension", "devtools"):
        return False
    return parts.hostname not in ("127.0.0.1", "localhost", "::1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder: os.PathLike):
    """Serve `folder` over HTTP on a free port of 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def screenshot(driver, name: str) -> pathlib.Path:
    """Save the window as ARTIFACTS/name and return the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    return path
