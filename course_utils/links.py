"""Launch links (Binder badge, nbgitpuller) rendered from one place so they cannot drift.

Every learner door opens the **learner edition** (``learner/``, exercises unsolved): the README's Binder badge, the
badge in each learner notebook, ``nbgitpuller_url(hub)``, the website's launch links and ``make lab``. The copies
with solutions (``notebooks/``) are the instructors': pass ``folder=SOLUTIONS_FOLDER`` (``"notebooks"``) to get a
link to them, as the instructor guide does. A badge inside ``notebooks/`` opens the copy it sits in (``notebooks/``).
"""
from __future__ import annotations

import re
from urllib.parse import quote, urlencode

GITHUB_REPO = "pruning-hands-on/pruning-hands-on"  # owner/name of the course repository
BRANCH = "main"
BINDER_BADGE_SVG = "https://mybinder.org/badge_logo.svg"
LEARNER_FOLDER = "learner"  # the learner edition: what every learner link opens
SOLUTIONS_FOLDER = "notebooks"  # the lessons with solutions: instructors only
FOLDERS = (LEARNER_FOLDER, SOLUTIONS_FOLDER)


def repo_url() -> str:
    return f"https://github.com/{GITHUB_REPO}"


def _check(notebook: str, folder: str) -> None:
    if not notebook.endswith(".ipynb") or "/" in notebook:
        raise ValueError(f"expected a notebook file name like '00_index.ipynb', got {notebook!r}")
    if folder not in FOLDERS:
        raise ValueError(f"folder must be one of {FOLDERS} (learners: {LEARNER_FOLDER!r}), got {folder!r}")


def binder_url(notebook: str = "00_index.ipynb", *, folder: str = LEARNER_FOLDER) -> str:
    """mybinder.org link that opens ``<folder>/<notebook>`` in JupyterLab: the learner edition (``learner/``) unless
    ``folder="notebooks"`` (the solutions, for instructors)."""
    _check(notebook, folder)
    urlpath = quote(f"lab/tree/{folder}/{notebook}", safe="")
    return f"https://mybinder.org/v2/gh/{GITHUB_REPO}/{BRANCH}?urlpath={urlpath}"


def binder_badge(notebook: str = "00_index.ipynb", *, folder: str = LEARNER_FOLDER) -> str:
    """Markdown for the Binder badge (the README's and every notebook header's; ``folder`` as in ``binder_url``)."""
    return f"[![Binder]({BINDER_BADGE_SVG})]({binder_url(notebook, folder=folder)})"


#: Any rendered Binder badge (whatever repository or notebook it points to): ``sync-env`` replaces the
#: matches in README.md and in each notebook's header with ``binder_badge(...)``.
BINDER_BADGE_RE = re.compile(r"\[!\[Binder\]\([^)]*\)\]\(https://mybinder\.org/[^)]*\)")


def nbgitpuller_url(hub: str, notebook: str = "00_index.ipynb", *, folder: str = LEARNER_FOLDER) -> str:
    """Link that clones/updates the course on a JupyterHub (``hub`` like ``https://hub.example.edu``)
    and opens ``<folder>/<notebook>`` in JupyterLab: the learner edition unless ``folder="notebooks"``."""
    if not hub.startswith(("http://", "https://")):
        raise ValueError(f"hub must be a URL starting with http(s)://, got {hub!r}")
    _check(notebook, folder)
    clone = GITHUB_REPO.split("/")[1]
    query = urlencode({
        "repo": repo_url(),
        "branch": BRANCH,
        "urlpath": f"lab/tree/{clone}/{folder}/{notebook}",
    })
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def raw_url(notebook: str, *, folder: str = LEARNER_FOLDER) -> str:
    """Download link of ``<folder>/<notebook>`` on GitHub (the learner edition unless ``folder="notebooks"``)."""
    _check(notebook, folder)
    return f"{repo_url()}/raw/{BRANCH}/{folder}/{notebook}"


def launch_links_markdown() -> str:
    """The instructor guide's table of doors: what learners get, and the instructors' own links to the solutions
    (``sync-env`` writes it between the guide's ``launch-links`` markers)."""
    hub = "https://hub.your-university.edu"
    return "\n".join([
        "| who | opens | on Binder | on your JupyterHub (nbgitpuller) | on a laptop |",
        "|---|---|---|---|---|",
        f"| **learners** (hand these out) | `{LEARNER_FOLDER}/`: the learner edition, exercises unsolved "
        f"| [learner edition]({binder_url()}) (the README badge) | `nbgitpuller_url(\"{hub}\")` | `make lab` |",
        f"| **instructors only: solutions** (never hand out) | `{SOLUTIONS_FOLDER}/`: the lessons with solutions "
        f"| [instructors' copy, with solutions]({binder_url(folder=SOLUTIONS_FOLDER)}) "
        f"| `nbgitpuller_url(\"{hub}\", folder=\"{SOLUTIONS_FOLDER}\")` "
        f"| `.venv/bin/jupyter lab {SOLUTIONS_FOLDER}/00_index.ipynb` |",
    ])
