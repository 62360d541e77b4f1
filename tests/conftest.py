"""Shared test set-up: plots off-screen (MPLBACKEND=Agg), the ``results_tmp`` fixture that sends ``record()`` to a
temporary folder, and ``lab_server``: a real JupyterLab server from this environment (FAST mode, token
``LAB_TOKEN``, the app exposed to the browser as ``window.jupyterapp`` for the browser tests)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    """``record()`` writes to ``tmp_path`` (not ``build/results``), and no notebook is current."""
    from course_utils import results

    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    monkeypatch.setattr(results, "_current_notebook", None)
    monkeypatch.delenv("COURSE_NOTEBOOK", raising=False)
    return tmp_path


LAB_TOKEN = "course-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """Base URL of a JupyterLab server; its kernels are this interpreter, in FAST mode.

    The server is rooted at a temporary copy of ``notebooks/`` and ``learner/``, and its kernels record results
    into a temporary folder: JupyterLab autosaves the notebooks it runs (outputs and all), which must not change
    the checkout (the cleanliness and learner-edition tests would then fail)."""
    import shutil

    from course_utils.results import REPO_ROOT
    from course_utils.runner import kernel_env

    root = tmp_path_factory.mktemp("lab_root")
    for folder in ("notebooks", "learner"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    port = free_port()
    env = kernel_env(fast=True, extra={"JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("runtime")),
                                       "JUPYTER_CONFIG_DIR": str(tmp_path_factory.mktemp("config")),
                                       "COURSE_RESULTS_DIR": str(tmp_path_factory.mktemp("lab_results"))})
    log = open(tmp_path_factory.mktemp("log") / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={LAB_TOKEN}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         "--LabApp.expose_app_in_browser=True"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            req = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {LAB_TOKEN}"})
            json.loads(urllib.request.urlopen(req, timeout=30).read())
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}; see {log.name}") from None
            time.sleep(0.5)
    else:
        proc.terminate()
        raise RuntimeError("jupyter lab did not answer within 90 s")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
