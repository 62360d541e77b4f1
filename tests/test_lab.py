"""Start a real JupyterLab server from this environment, open the notebook ``make lab`` opens (the learner
edition's index) through the REST API, start a kernel and run the notebook's Setup cell over the kernel websocket."""
from __future__ import annotations

import json
import re
import socket
import sys
import time
import urllib.request
import uuid

import pytest

TOKEN = "course-test-token"
pytestmark = pytest.mark.lab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, method: str = "GET", body: dict | None = None) -> dict:
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def _execute(ws, code: str, timeout: float = 120) -> tuple[str, str]:
    """Send an execute_request over the kernel websocket; return (status, stdout)."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                   "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    out, status, idle = [], None, False
    deadline = time.time() + timeout
    while time.time() < deadline and not (status and idle):
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            out.append("\n".join(msg["content"]["traceback"]))
        elif kind == "execute_reply":
            status = msg["content"]["status"]
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
    return status or "timeout", "".join(out)


def _make_lab_notebook() -> str:
    """The notebook the Makefile's ``lab`` recipe opens (``learner/00_index.ipynb``)."""
    from course_utils.results import REPO_ROOT

    recipe = re.search(r"^lab:[^\n]*\n\t([^\n]*)", (REPO_ROOT / "Makefile").read_text(), re.M).group(1)
    (path,) = re.findall(r"jupyter lab (\S+\.ipynb)", recipe)
    return path


def test_lab_opens_index_and_runs_setup(lab_server):
    import websocket  # websocket-client, a dependency of jupyter_server

    relpath = _make_lab_notebook()
    assert relpath == "learner/00_index.ipynb"
    page = urllib.request.urlopen(urllib.request.Request(f"{lab_server}/lab/tree/{relpath}",
                                  headers={"Authorization": f"token {TOKEN}"}), timeout=30)
    assert page.status == 200 and b"JupyterLab" in page.read()
    nb = _get(f"{lab_server}/api/contents/{relpath}")
    assert nb["type"] == "notebook"
    cells = nb["content"]["cells"]
    setup = next(c for c in cells if c["cell_type"] == "code" and "notebook_setup(" in c["source"])
    params = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
    kernel = _get(f"{lab_server}/api/kernels", "POST", {"name": "python3"})
    ws = websocket.create_connection(
        f"{lab_server.replace('http', 'ws')}/api/kernels/{kernel['id']}/channels?token={TOKEN}", timeout=120)
    try:
        code = params["source"] + "\n" + setup["source"] + "\nimport sys; print('EXE', sys.executable)"
        status, out = _execute(ws, code)
        assert status == "ok", out
        assert "FAST mode: True" in out  # COURSE_FAST=1 from the environment wins over FAST = False
        assert f"EXE {sys.executable}" in out
        assert "!!" not in out, f"a package differs from the pins:\n{out}"
    finally:
        ws.close()
        _get(f"{lab_server}/api/kernels/{kernel['id']}", "DELETE")
