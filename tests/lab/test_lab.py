"""`make lab` as a user starts it, but headless: on a free local port with a token, in a
folder holding a copy of a lecture. Through the server's API the test opens the notebook,
starts a session on the course's kernel, runs a cell there and reads its output; then
headless Chromium opens the notebook in JupyterLab for a screenshot. As root (a container,
CI), `make lab` must pass --allow-root and say so, or JupyterLab exits at once.
"""

import asyncio
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests import browser

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNEL = "keras-vision-course"
NOTEBOOK = "notebooks/00_setup.ipynb"


class Lab:
    def __init__(self, folder: pathlib.Path):
        self.folder, self.port, self.token = folder, browser.free_port(), uuid.uuid4().hex
        self.base = f"http://127.0.0.1:{self.port}/"
        self.log = folder.parent / "lab.log"
        self.proc = None

    def start(self, timeout=120):
        venv = pathlib.Path(sys.prefix)
        flags = (f"--no-browser --ServerApp.ip=127.0.0.1 --port={self.port} --ServerApp.port_retries=0 "
                 f"--IdentityProvider.token={self.token}")
        home = self.folder.parent
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTER_CONFIG_DIR": str(home / "config"),
               "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
        # `make lab` itself, with this test's Python as the venv (-o: never reinstall it here).
        cmd = ["make", "--no-print-directory", "-C", str(ROOT), "-o", f"{venv}/.installed", "lab",
               f"VENV={venv}", f"LAB_ROOT={self.folder}", f"LAB_FLAGS={flags}"]
        self.proc = subprocess.Popen(cmd, stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"make lab exited with {self.proc.returncode}:\n{self.output()}")
            try:
                self.api("GET", "api/status")
                return self
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        pytest.fail(f"JupyterLab did not answer within {timeout} s:\n{self.output()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def api(self, method, path, body=None):
        request = urllib.request.Request(self.base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not shutil.which("make"):
        pytest.skip("no make on this machine")
    home = tmp_path_factory.mktemp("lab")
    folder = home / "course"
    (folder / "notebooks").mkdir(parents=True)
    shutil.copy2(ROOT / NOTEBOOK, folder / NOTEBOOK)
    server = Lab(folder)
    try:
        yield server.start()
    finally:
        server.stop()


async def _execute(url: str, code: str, timeout: float) -> tuple[list[str], dict]:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(url)
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "date": "",
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    outputs, reply, idle = [], None, False
    try:
        while reply is None or not idle:
            message = json.loads(await asyncio.wait_for(ws.read_message(), timeout))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream":
                outputs.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                outputs.append(content["data"].get("text/plain", ""))
            elif kind == "error":
                outputs.append(f"{content['ename']}: {content['evalue']}")
            elif kind == "status":
                idle = content["execution_state"] == "idle"
            elif kind == "execute_reply":
                reply = content
    finally:
        ws.close()
    return outputs, reply


def test_make_lab_allows_root_only_as_root(lab):
    said = "make lab: running as root, so JupyterLab is started with --allow-root" in lab.output()
    assert said == (os.getuid() == 0), lab.output()
    assert ("--allow-root" in lab.output()) == (os.getuid() == 0)


def test_lab_runs_a_cell_on_the_course_kernel(lab):
    specs = lab.api("GET", "api/kernelspecs")
    assert KERNEL in specs["kernelspecs"] and specs["default"] == KERNEL, specs
    assert specs["kernelspecs"][KERNEL]["spec"]["display_name"] == "Keras vision course"

    model = lab.api("GET", f"api/contents/{NOTEBOOK}")
    assert model["type"] == "notebook" and model["content"]["cells"][0]["source"].startswith("# 00 · ")

    session = lab.api("POST", "api/sessions", {"path": NOTEBOOK, "type": "notebook", "name": "00_setup.ipynb",
                                               "kernel": {"name": KERNEL}})
    try:
        assert session["kernel"]["name"] == KERNEL
        url = f"ws://127.0.0.1:{lab.port}/api/kernels/{session['kernel']['id']}/channels?token={lab.token}"
        code = ("import sys\nimport course_lib as cl\ncfg = cl.setup(seed=0, profile='smoke')\n"
                "print('kernel python:', sys.executable)\ncfg.pick(smoke=1, cpu=4, gpu=30)")
        outputs, reply = asyncio.run(_execute(url, code, timeout=180))
        text = "".join(outputs)
        assert reply["status"] == "ok", text
        assert "course_lib setup: profile=smoke backend=" in text
        assert f"kernel python: {sys.executable}" in text or f"kernel python: {pathlib.Path(sys.prefix)}" in text
        assert outputs[-1] == "1"
    finally:
        lab.api("DELETE", f"api/sessions/{session['id']}")
    assert lab.api("GET", "api/sessions") == []
    # the server read the notebook; nothing was written back into it
    assert (lab.folder / NOTEBOOK).read_bytes() == (ROOT / NOTEBOOK).read_bytes()


def test_jupyterlab_in_the_browser_opens_the_notebook_on_the_course_kernel(lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with browser.chromium() as driver:
        driver.get(f"{lab.base}lab/tree/{NOTEBOOK}?token={lab.token}")
        wait = WebDriverWait(driver, 120)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell"))
        kernel = wait.until(lambda d: d.execute_script(
            "const k = document.querySelector('.jp-NotebookPanel .jp-KernelName, "
            ".jp-NotebookPanel [data-jp-item-name=\"kernelName\"]');"
            "return k && k.textContent.trim() !== 'No Kernel' && k.textContent.trim()"))
        wait.until(lambda d: d.execute_script(
            "const s = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');"
            "return s && s.getAttribute('data-status') === 'idle'"))
        assert "Keras vision course" in kernel
        assert not driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog"), "JupyterLab asked for a kernel"
        assert "Setting up" in driver.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell").text
        shot = browser.screenshot(driver, "lab-notebook.png")
        assert shot.stat().st_size > 20_000
        outside = [u for u in browser.requested_urls(driver) if browser.leaves_machine(u)]
        assert not outside, outside
