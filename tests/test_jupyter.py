"""The interactive half in a real browser: JupyterLab on the project's venv, a headless Chromium driven by
Playwright, the recommender notebook run from the Run menu as a person would.

JupyterLab serves a temporary copy of the notebook (``smoke`` set to True in its parameters cell) with its own
settings (autosave off, every cell rendered), workspaces, config and runtime folders, and the run record goes
to the test's ``KIT_RUNS_DIR``/``KIT_SUBMISSIONS_DIR``: the checkout stays as it was. The browser is Debian's
``/usr/bin/chromium`` (``.ci/run`` installs it); Playwright never downloads one. Outside CI the test skips,
saying why, when JupyterLab or the browser cannot start; with ``CI=true`` it fails instead. A screenshot of the
notebook at its first plot is saved as ``jupyterlab.png`` in the test's temporary folder.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
import servers
from servers import free_port

from kitlib.competitions import ROOT, get_competition

pytestmark = pytest.mark.notebook

CHROMIUM = Path("/usr/bin/chromium")
# The machine's network is closed: without these Chromium keeps retrying its background connections.
# --disable-dev-shm-usage: containers often have a small /dev/shm, where Chromium's renderer crashes.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
SECRET = "kaggle-key-the-page-must-not-show"
NOTEBOOK = ROOT / "notebooks" / "recommender.ipynb"
# JupyterLab user settings: render every cell (JupyterLab 4 otherwise only renders those in view), no
# autosave, no news or update checks (there is no network).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}
RUN_ALL_SECONDS = 300


def unavailable(reason: str):
    """Skip outside CI, fail in CI (:func:`servers.unavailable`)."""
    servers.unavailable(reason, "browser test")


def smoke_copy(notebook: Path, out: Path) -> Path:
    """A copy of ``notebook`` with ``smoke`` set to True in its parameters cell (the notebook itself is unchanged)."""
    nb = nbformat.read(notebook, as_version=4)
    (params,) = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    source, n = re.subn(r"^smoke: bool = False\b", "smoke: bool = True", params.source, flags=re.M)
    assert n == 1, "the parameters cell declares `smoke: bool = False`"
    params.source = source
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out


def lab_environment(tmp: Path) -> dict[str, str]:
    """The server's (and so the kernel's) environment: the test's, with JupyterLab's and IPython's own folders
    under ``tmp``, the venv's kernel spec first, and plots inline."""
    settings = tmp / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if k not in ("KIT_RUN_DIR", "JUPYTER_TOKEN")}
    env.update(JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "lab-workspaces"),
               JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"), JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"),
               JUPYTER_DATA_DIR=str(tmp / "jupyter-data"), IPYTHONDIR=str(tmp / "ipython"),
               JUPYTER_PATH=str(Path(sys.prefix) / "share" / "jupyter"),
               MPLBACKEND="module://matplotlib_inline.backend_inline")
    return env


def api(base: str, token: str, path: str, method: str = "GET"):
    request = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


@contextlib.contextmanager
def jupyterlab(root: Path, tmp: Path):
    """JupyterLab serving ``root`` on loopback (a free port, a random token); yields ``(base_url, token, log)``.
    Its kernels and the server are shut down afterwards, also when the test fails."""
    if importlib.util.find_spec("jupyterlab") is None:
        unavailable("JupyterLab is not installed; run `make setup`")
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    log = tmp / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--allow-root", "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with open(log, "wb") as out:
        server = subprocess.Popen(cmd, cwd=root, env=lab_environment(tmp), stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                unavailable(f"JupyterLab exited with {server.returncode}: {log.read_text()[-2000:]}")
            try:
                api(base, token, "/api/status")
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    unavailable(f"JupyterLab did not answer on {base} within 120 s: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield base, token, log
    finally:
        with contextlib.suppress(Exception):
            for kernel in api(base, token, "/api/kernels"):
                api(base, token, f"/api/kernels/{kernel['id']}", method="DELETE")
        with contextlib.suppress(Exception):
            api(base, token, "/api/shutdown", method="POST")
        for sig, wait in ((None, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, sig)
            try:
                server.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue


@contextlib.contextmanager
def chromium_page(tmp: Path):
    """A page of a fresh headless Chromium (its own profile under ``tmp``); closed afterwards."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        unavailable(f"Playwright is not installed ({exc}); run `make setup`")
    if not CHROMIUM.is_file():
        unavailable(f"no browser at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(tmp / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1400, "height": 1000})
        except Error as exc:
            unavailable(f"Chromium did not start: {str(exc)[:2000]}")
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            context.close()


def execution_states(base: str, token: str) -> list[str]:
    return [k["execution_state"] for k in api(base, token, "/api/kernels")]


def wait_for_kernel(page, base: str, token: str, seconds: float = 120) -> None:
    """Until the notebook's kernel has started and the page shows it idle (twice in a row: the indicator
    reads idle for a moment before the kernel exists, and Run All then asks which kernel to start)."""
    indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']")
    deadline, ready = time.monotonic() + seconds, 0
    while ready < 2:
        assert time.monotonic() < deadline, f"the kernel did not start within {seconds:.0f} s"
        assert not page.locator(".jp-Dialog").count(), f"a dialog: {page.locator('.jp-Dialog').inner_text()}"
        time.sleep(1)
        sessions = api(base, token, "/api/sessions")
        started = [s for s in sessions if (s.get("kernel") or {}).get("execution_state") == "idle"]
        ready = ready + 1 if started and indicator.count() else 0


def test_recommender_runs_all_cells_in_jupyterlab(kit_dirs, tmp_path, monkeypatch):
    runs_dir, _ = kit_dirs
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", SECRET)  # the kernel has credentials; nothing may show them
    root = tmp_path / "project"
    notebook = smoke_copy(NOTEBOOK, root / "notebooks" / NOTEBOOK.name)
    n_code = sum(c.cell_type == "code" for c in nbformat.read(notebook, as_version=4).cells)
    screenshot = tmp_path / "jupyterlab.png"
    t0 = time.monotonic()
    with jupyterlab(root, tmp_path) as (base, token, log), chromium_page(tmp_path) as page:
        tracker = api(base, token, "/lab/api/settings/@jupyterlab/notebook-extension:tracker")
        assert tracker["settings"]["windowingMode"] == "none", "JupyterLab reads the test's settings folder"
        try:
            page.goto(f"{base}/lab/tree/notebooks/{notebook.name}?token={token}")
            wait_for_kernel(page, base, token)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt")
            deadline, idle_polls = time.monotonic() + RUN_ALL_SECONDS, 0
            while idle_polls < 2:  # idle twice in a row, nothing queued: Run All has finished or stopped
                assert time.monotonic() < deadline, f"Run All Cells still running after {RUN_ALL_SECONDS} s"
                time.sleep(1)
                texts = prompts.all_inner_texts()
                done = (not any("*" in t for t in texts) and any(re.search(r"\d", t) for t in texts)
                        and set(execution_states(base, token)) == {"idle"})
                idle_polls = idle_polls + 1 if done else 0

            manifests = sorted(runs_dir.glob("*/manifest.json"))
            record = json.loads(manifests[0].read_text()) if len(manifests) == 1 else {}
            texts = prompts.all_inner_texts()
            assert len(texts) == n_code, f"every code cell is rendered: {len(texts)} of {n_code}"
            assert all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in texts), \
                f"every code cell ran: prompts {texts}; run record error: {record.get('error')}"
            assert page.locator(".jp-OutputArea-output img").count() >= 1, "a plot image is rendered inline"
            shown = page.locator(".jp-NotebookPanel .jp-Notebook").inner_text()
            assert "Traceback" not in shown and SECRET not in shown

            page.locator(".jp-NotebookPanel .jp-Notebook").click()  # save through the UI (autosave is off)
            page.keyboard.press("Control+s")
            for _ in range(60):
                saved = nbformat.read(notebook, as_version=4)
                if all(c.execution_count for c in saved.cells if c.cell_type == "code"):
                    break
                time.sleep(0.5)
            errors = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
            assert not errors, f"error outputs: {[(o.ename, o.evalue) for o in errors]}"
            assert all(c.execution_count for c in saved.cells if c.cell_type == "code"), "the saved notebook ran"

            assert SECRET not in notebook.read_text()
            assert len(manifests) == 1, f"one interactive run folder: {[p.parent.name for p in manifests]}"
            assert SECRET not in manifests[0].read_text()
            assert record["status"] == "ok", record.get("error")
            assert record["params"]["smoke"] is True and record["notebook"] == str(notebook)
            submission = Path(record["submission"]["path"])
            copy = manifests[0].parent / get_competition("recommender").submission.file_name
            assert submission.is_file() and copy.read_bytes() == submission.read_bytes()
        finally:
            with contextlib.suppress(Exception):
                img = page.locator(".jp-OutputArea-output img").first
                if img.count():
                    img.scroll_into_view_if_needed()
                page.screenshot(path=str(screenshot))
            print(f"browser test: {time.monotonic() - t0:.0f} s; screenshot {screenshot}; server log {log}")
    assert screenshot.is_file()
