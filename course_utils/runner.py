"""Execute the course's notebooks with papermill and report time, memory and results.

``python -m course_utils run-all`` is the course's benchmark: it runs every notebook in
``notebooks/`` in order, each in a fresh process (so memory is per notebook), writes the
executed copies under ``build/executed/<mode>/`` and prints a table of
notebook · status · wall seconds · peak RSS (MB) · recorded results.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .results import REPO_ROOT, load_results, results_dir

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
KERNEL_NAME = "python3"


def notebooks(pattern: str = "") -> list[Path]:
    """The course notebooks in order (``NN_name.ipynb``), optionally filtered by a substring."""
    found = sorted(p for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    return [p for p in found if pattern in p.name]


def current_env_kernel_dir() -> Path:
    """A JUPYTER_PATH folder whose ``python3`` kernel is *this* interpreter.

    Notebooks name the kernel ``python3``; whatever kernel with that name is registered on the
    machine could be another Python. Putting this folder first on JUPYTER_PATH makes papermill
    use the project's environment (the same idea as nbval's ``--nbval-current-env``).
    """
    root = Path(tempfile.gettempdir()) / f"course-kernel-{os.getuid()}-{abs(hash(sys.executable))}"
    kdir = root / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (course)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (kdir / "kernel.json").write_text(json.dumps(spec))
    return root


def kernel_env(fast: bool, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for executing notebooks: current-env kernel first, FAST flag.

    MPLBACKEND is removed so kernels use the inline backend and executed copies keep their figures.
    """
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(current_env_kernel_dir())] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    )
    env["COURSE_FAST"] = "1" if fast else "0"
    env.pop("MPLBACKEND", None)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if extra:
        env.update(extra)
    return env


@dataclass
class RunResult:
    notebook: str
    ok: bool
    seconds: float
    peak_rss_mb: float
    results: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def run_notebook(path: Path, *, fast: bool, out_dir: Path, timeout: int = 1800) -> RunResult:
    """Execute one notebook with papermill in a fresh process; measure wall time and peak RSS.

    Peak RSS (MB) is the largest resident set of the papermill process and its kernel, read from
    the kernel's rusage when the process tree ends (``os.wait4``), so short peaks are not missed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    stem = path.stem
    stale = results_dir() / f"{stem}.json"
    if stale.exists():
        stale.unlink()
    cmd = [
        sys.executable, "-m", "papermill", str(path), str(out),
        "-p", "FAST", str(bool(fast)),
        "--kernel", KERNEL_NAME,
        "--cwd", str(path.parent),
        "--no-progress-bar",
        "--execution-timeout", str(timeout),
    ]
    log = out_dir / f"{stem}.log"
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=kernel_env(fast, {"COURSE_NOTEBOOK": stem}))
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    ok = proc.returncode == 0
    error = "" if ok else _last_error(log)
    return RunResult(stem, ok, seconds, rusage.ru_maxrss / 1024, load_results(stem), error)


def _last_error(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "Exception" in ln:
            return ln.strip()[:200]
    return (lines[-1] if lines else "failed").strip()[:200]


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        return f"<{type(v).__name__} of {len(v)}>"
    return str(v)


def format_table(rows: list[RunResult], *, mode: str) -> str:
    """A Markdown table of the run (paste it into an issue note)."""
    lines = [
        f"Mode: {mode}   Python {sys.version.split()[0]}   CPU threads: {os.cpu_count()}",
        "",
        "| notebook | status | wall s | peak RSS MB | results |",
        "|---|---|---:|---:|---|",
    ]
    for r in rows:
        res = ", ".join(f"{k}={_fmt_value(v)}" for k, v in sorted(r.results.items()) if not isinstance(v, (list, dict)))
        status = "ok" if r.ok else f"FAILED: {r.error}"
        lines.append(f"| {r.notebook} | {status} | {r.seconds:.1f} | {r.peak_rss_mb:.0f} | {res} |")
    total = sum(r.seconds for r in rows)
    lines.append(f"| **total** | {sum(r.ok for r in rows)}/{len(rows)} ok | {total:.1f} | {max((r.peak_rss_mb for r in rows), default=0):.0f} | |")
    return "\n".join(lines)


def run_all(*, fast: bool, pattern: str = "", out_dir: Path | None = None, timeout: int = 1800) -> list[RunResult]:
    """Run every notebook (matching ``pattern``) in order and print the benchmark table."""
    from tqdm.auto import tqdm

    mode = "FAST" if fast else "full"
    out_dir = out_dir or REPO_ROOT / "build" / "executed" / mode.lower()
    paths = notebooks(pattern)
    if not paths:
        raise SystemExit(f"no notebooks match {pattern!r} in {NOTEBOOK_DIR}")
    rows: list[RunResult] = []
    bar = tqdm(paths, desc=f"run-all ({mode})", unit="notebook")
    for p in bar:
        bar.set_postfix_str(p.stem)
        rows.append(run_notebook(p, fast=fast, out_dir=out_dir, timeout=timeout))
    table = format_table(rows, mode=mode)
    (out_dir / "run-all.md").write_text(table + "\n")
    print(table)
    return rows
