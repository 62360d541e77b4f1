"""Launch links (Binder badge, nbgitpuller) rendered from one place so they cannot drift."""
from __future__ import annotations

import re
from urllib.parse import quote, urlencode

GITHUB_REPO = "pruning-hands-on/pruning-hands-on"  # owner/name of the course repository
BRANCH = "main"
BINDER_BADGE_SVG = "https://mybinder.org/badge_logo.svg"


def repo_url() -> str:
    return f"https://github.com/{GITHUB_REPO}"


def binder_url(notebook: str = "00_index.ipynb") -> str:
    """mybinder.org link that opens ``notebooks/<notebook>`` in JupyterLab."""
    if not notebook.endswith(".ipynb") or "/" in notebook:
        raise ValueError(f"expected a notebook file name like '00_index.ipynb', got {notebook!r}")
    urlpath = quote("lab/tree/notebooks/" + notebook, safe="")
    return f"https://mybinder.org/v2/gh/{GITHUB_REPO}/{BRANCH}?urlpath={urlpath}"


def binder_badge(notebook: str = "00_index.ipynb") -> str:
    """Markdown for the Binder badge (used in the README and every notebook header)."""
    return f"[![Binder]({BINDER_BADGE_SVG})]({binder_url(notebook)})"


#: Any rendered Binder badge (whatever repository or notebook it points to): ``sync-env`` replaces the
#: matches in README.md and in each notebook's header with ``binder_badge(...)``.
BINDER_BADGE_RE = re.compile(r"\[!\[Binder\]\([^)]*\)\]\(https://mybinder\.org/[^)]*\)")


def nbgitpuller_url(hub: str, notebook: str = "00_index.ipynb") -> str:
    """Link that clones/updates the course on a JupyterHub (``hub`` like ``https://hub.example.edu``)
    and opens ``notebook`` in JupyterLab."""
    if not hub.startswith(("http://", "https://")):
        raise ValueError(f"hub must be a URL starting with http(s)://, got {hub!r}")
    folder = GITHUB_REPO.split("/")[1]
    query = urlencode({
        "repo": repo_url(),
        "branch": BRANCH,
        "urlpath": f"lab/tree/{folder}/notebooks/{notebook}",
    })
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"
