"""Execute the course's notebooks with papermill and report time, memory and results.

``python -m course_utils run-all`` is the course's benchmark: it runs every notebook in
``notebooks/`` in order, each in a fresh process (so memory is per notebook), writes the
executed copies under ``build/executed/<mode>/`` and prints a table of
notebook · status · wall seconds · peak RSS (MB) · recorded results.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .paths import EXECUTED_DIR, NOTEBOOK_DIR, require_checkout
from .results import load_results, results_dir

KERNEL_NAME = "python3"


def other_kernels_env(cpu_flags: str | None = None) -> dict[str, str]:
    """Environment variables that make this CPU run the numerical kernels another CPU family would run.

    Float digits depend on the kernels a library picks for the CPU (AVX-512 on recent Intel, AVX2 only on AMD EPYC),
    so a tolerance that one CPU happens to meet can fail on another. Set these before PyTorch or TensorFlow is
    imported: PyTorch's ATen kernels one level down (``avx2`` on an AVX-512 CPU, else the ``default`` non-vector
    ones), oneDNN capped at AVX2 (PyTorch's convolutions), and TensorFlow on its own Eigen kernels instead of oneDNN
    (the setting that reproduces the AVX2-only machine's BatchNorm statistics on an AVX-512 one). ``cpu_flags`` (the
    ``flags`` line of /proc/cpuinfo) is read from the machine when ``None``. Used by ``make test`` for the learner
    edition and by ``run-all --other-kernels``.
    """
    if cpu_flags is None:
        try:
            cpu_flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpu_flags = ""
    aten = "avx2" if "avx512f" in cpu_flags.split() else "default"
    return {"ATEN_CPU_CAPABILITY": aten, "ONEDNN_MAX_CPU_ISA": "AVX2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def notebooks(pattern: str = "", *, directory: Path | None = None) -> list[Path]:
    """The course notebooks in order (``NN_name.ipynb``, and a lesson's going-further ``NNx_name.ipynb`` right after
    it), optionally filtered by a substring.

    ``directory`` lists another folder of numbered notebooks (e.g. the learner edition); default ``notebooks/``
    of the checkout (``paths.NOTEBOOK_DIR``).
    """
    if directory is None:
        require_checkout("the course's notebooks are in notebooks/")
    found = sorted(p for p in (directory or NOTEBOOK_DIR).glob("[0-9][0-9]*_*.ipynb")
                   if re.match(r"\d\d[a-z]?_", p.name))
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


def run_notebook(path: Path, *, fast: bool, out_dir: Path, timeout: int = 1800, seed: int | None = None,
                 env: dict[str, str] | None = None) -> RunResult:
    """Execute one notebook with papermill in a fresh process; measure wall time and peak RSS.

    ``seed`` (a non-negative int) is passed as the notebook's ``SEED`` parameter; ``None`` keeps its default.
    ``env``: extra environment variables for the kernel (e.g. ``other_kernels_env()``).

    Peak RSS (MB) is the largest resident set of the papermill process and its kernel, read from
    the kernel's rusage when the process tree ends (``os.wait4``), so short peaks are not missed.
    """
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    stem = path.stem
    # Each run records into its own folder (beside its executed copy), so a FAST test or nbval run of the same
    # notebook at the same time cannot overwrite or delete its results; the canonical copy is updated at the end.
    run_results = out_dir / "results"
    stale = run_results / f"{stem}.json"
    if stale.exists():
        stale.unlink()
    cmd = [
        sys.executable, "-m", "papermill", str(path), str(out),
        "-p", "FAST", str(bool(fast)),
        *(["-p", "SEED", str(seed)] if seed is not None else []),
        "--kernel", KERNEL_NAME,
        "--cwd", str(path.parent),
        "--no-progress-bar",
        "--execution-timeout", str(timeout),
    ]
    log = out_dir / f"{stem}.log"
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                env=kernel_env(fast, {**(env or {}), "COURSE_NOTEBOOK": stem,
                                                      "COURSE_RESULTS_DIR": str(run_results)}))
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    ok = proc.returncode == 0
    error = "" if ok else _last_error(log)
    recorded = run_results / f"{stem}.json"
    results = json.loads(recorded.read_text()) if recorded.exists() else {}
    canonical = results_dir() / f"{stem}.json"
    if recorded.exists():
        if recorded.resolve() != canonical.resolve():  # a caller may run with results_dir() == out_dir/results
            shutil.copyfile(recorded, canonical)
    elif canonical.exists():
        canonical.unlink()  # never leave an older run's numbers beside this run's executed copy
    return RunResult(stem, ok, seconds, rusage.ru_maxrss / 1024, results, error)


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
    peak = max((r.peak_rss_mb for r in rows), default=0)
    lines.append(f"| **total** | {sum(r.ok for r in rows)}/{len(rows)} ok | {total:.1f} | {peak:.0f} | |")
    lines += _track_lines(rows, width=5)
    return "\n".join(lines)


def _track_lines(rows: list[RunResult], *, width: int, label: str = "") -> list[str]:
    """One row per track (``course.track``): the wall time (seconds) and peak of the notebooks a learner on that
    track runs, when the run covered the whole track; padded to ``width`` table columns. ``label`` follows the
    track's name (e.g. ", seed 1")."""
    from .course import TRACKS, track

    by_stem = {r.notebook: r for r in rows}
    out = []
    for fw in TRACKS:
        stems = [les.stem for les in track(fw) if les.available]
        if stems and all(s in by_stem for s in stems):
            sel = [by_stem[s] for s in stems]
            cells = [f"**{fw} track{label}** ({len(sel)} notebooks)", f"{sum(r.ok for r in sel)}/{len(sel)} ok",
                     f"{sum(r.seconds for r in sel):.1f}", f"{max(r.peak_rss_mb for r in sel):.0f}"]
            out.append("| " + " | ".join(cells + [""] * (width - len(cells))) + " |")
    return out


def format_seed_table(runs: dict[int, list[RunResult]], *, mode: str) -> str:
    """One Markdown table for several seeds: per notebook a status row (wall s, peak RSS MB), then one row
    per scalar result, with a column per seed and the spread (max − min) of numeric results."""
    seeds = sorted(runs)
    by_nb: dict[str, dict[int, RunResult]] = {}
    for seed in seeds:
        for r in runs[seed]:
            by_nb.setdefault(r.notebook, {})[seed] = r
    cols = [f"seed {s}" for s in seeds]
    lines = [
        f"Mode: {mode}   seeds: {', '.join(map(str, seeds))}   Python {sys.version.split()[0]}   "
        f"CPU threads: {os.cpu_count()}",
        "",
        "| notebook | result | " + " | ".join(cols) + " | spread |",
        "|---|---|" + "---:|" * len(cols) + "---:|",
    ]
    for nb, per_seed in by_nb.items():
        status = [("ok" if r.ok else f"FAILED: {r.error}") + f" · {r.seconds:.0f} s · {r.peak_rss_mb:.0f} MB"
                  if (r := per_seed.get(s)) else "—" for s in seeds]
        lines.append(f"| **{nb}** | status · wall · peak RSS | " + " | ".join(status) + " | |")
        keys = sorted({k for r in per_seed.values() for k, v in r.results.items()
                       if not isinstance(v, (list, dict)) and k not in ("seed", "fast_mode")})
        for k in keys:
            vals = [per_seed[s].results.get(k) if s in per_seed else None for s in seeds]
            nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
            spread = f"{max(nums) - min(nums):.4g}" if len(nums) == len(seeds) and len(nums) > 1 else ""
            lines.append(f"| | {k} | " + " | ".join("—" if v is None else _fmt_value(v) for v in vals)
                         + f" | {spread} |")
    for s in seeds:
        rows = runs[s]
        lines.append(f"| **total, seed {s}** | {sum(r.ok for r in rows)}/{len(rows)} ok | "
                     f"{sum(r.seconds for r in rows):.0f} s, "
                     f"peak {max((r.peak_rss_mb for r in rows), default=0):.0f} MB"
                     + " |" * len(seeds) + " |")
        lines += _track_lines(rows, width=len(seeds) + 3, label=f", seed {s}")
    return "\n".join(lines)


def format_twin_table(runs: dict[int | None, list[RunResult]]) -> str:
    """PyTorch vs TensorFlow: for each lesson taught in both (``course.twins()``), the scalar results that both
    notebooks recorded under the same key, side by side (mean over the seeds run). Empty when no pair ran."""
    from statistics import fmean

    from .course import twins

    values: dict[str, dict[str, list[Any]]] = {}
    for rows in runs.values():
        for r in rows:
            if r.ok:
                for k, v in r.results.items():
                    values.setdefault(r.notebook, {}).setdefault(k, []).append(v)

    def show(vs: list[Any]) -> str:
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vs):
            return _fmt_value(fmean(vs))
        return _fmt_value(vs[0]) if len(set(map(str, vs))) == 1 else " / ".join(map(_fmt_value, vs))

    lines = ["| lesson | result | PyTorch | TensorFlow |", "|---|---|---:|---:|"]
    for pt, tf, topic in twins():
        a, b = values.get(pt, {}), values.get(tf, {})
        shared = sorted(k for k in set(a) & set(b) if k not in ("seed", "fast_mode")
                        and not any(isinstance(v, (list, dict)) for v in a[k] + b[k]))
        lines += [f"| {topic} | {k} | {show(a[k])} | {show(b[k])} |" for k in shared]
    if len(lines) == 2:
        return ""
    n = len([s for s in runs if s is not None]) or 1
    head = "PyTorch vs TensorFlow: results both twins record under the same key"
    head += f" (mean of {n} seeds)" if n > 1 else ""
    return head + "\n\n" + "\n".join(lines)


def run_all(*, fast: bool, pattern: str = "", out_dir: Path | None = None, timeout: int = 1800,
            seeds: list[int] | None = None, directory: Path | None = None,
            env: dict[str, str] | None = None) -> list[RunResult]:
    """Run every notebook (matching ``pattern``) in order and print the benchmark table.

    ``seeds``: run the whole course once per seed (the notebooks' ``SEED`` parameter) and print one table
    with a column per seed; ``None`` runs once with each notebook's default seed. ``directory``: run the
    notebooks of another folder (``learner/``) instead of ``notebooks/``. ``env``: extra environment variables
    for every kernel (``other_kernels_env()`` for ``--other-kernels``).
    """
    from tqdm.auto import tqdm

    mode = "FAST" if fast else "full"
    out_dir = out_dir or EXECUTED_DIR / mode.lower()
    paths = notebooks(pattern, directory=directory)
    if not paths:
        raise SystemExit(f"no notebooks match {pattern!r} in {directory or NOTEBOOK_DIR}")
    runs: dict[int | None, list[RunResult]] = {}
    for seed in seeds if seeds else [None]:
        seed_dir = out_dir if seed is None else out_dir / f"seed{seed}"
        rows: list[RunResult] = []
        desc = f"run-all ({mode}" + ("" if seed is None else f", seed {seed}") + ")"
        bar = tqdm(paths, desc=desc, unit="notebook")
        for p in bar:
            bar.set_postfix_str(p.stem)
            rows.append(run_notebook(p, fast=fast, out_dir=seed_dir, timeout=timeout, seed=seed, env=env))
        runs[seed] = rows
        label = mode if seed is None else f"{mode}, seed {seed}"
        (seed_dir / "run-all.md").write_text(format_table(rows, mode=label) + "\n")
    if seeds:
        table = format_seed_table(runs, mode=mode)  # type: ignore[arg-type]
        (out_dir / "run-seeds.md").write_text(table + "\n")
    else:
        table = format_table(runs[None], mode=mode)
    twin_table = format_twin_table(runs)
    if twin_table:
        (out_dir / "frameworks.md").write_text(twin_table + "\n")
        table += "\n\n" + twin_table
    print(table)
    every = [r for rows in runs.values() for r in rows]
    passed = sum(r.ok for r in every)
    print(f"notebooks: {passed} passed, {len(every) - passed} failed")  # the closing line CI and scripts read
    return every


def run_each_cell_twice(path: Path, *, fast: bool = True, seed: int | None = None, timeout: int = 1800,
                        out: Path | None = None) -> dict[str, Any]:
    """Execute a notebook with every code cell run twice in a row, as a learner who re-runs cells does.

    Returns the results the notebook recorded. A cell that prunes a model another cell made, or draws from a
    global random stream, gives different numbers (or fails) the second time; comparing these results with a
    normal run finds it. Raises ``RuntimeError`` naming the cell if a second run fails. Uses the current
    environment's kernel, like :func:`run_notebook`.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(path))  # nbformat, with the cell metadata papermill expects
    params: dict[str, Any] = {"FAST": bool(fast)}
    if seed is not None:
        params["SEED"] = seed
    nb = parameterize_notebook(nb, params, kernel_name=KERNEL_NAME)
    saved_env = dict(os.environ)
    os.environ.update(kernel_env(fast, {"COURSE_NOTEBOOK": path.stem}))
    stale = results_dir() / f"{path.stem}.json"
    if stale.exists():
        stale.unlink()
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL_NAME,
                                resources={"metadata": {"path": str(path.parent)}})
        with client.setup_kernel():
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                for attempt in (1, 2):
                    try:
                        client.execute_cell(cell, i)
                    except CellExecutionError as e:
                        raise RuntimeError(f"{path.name}: cell {i} failed on run {attempt}: "
                                           f"{str(e).strip().splitlines()[-1][:300]}") from None
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(out))
    return load_results(path.stem)
