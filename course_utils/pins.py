"""One place for pins: ``pyproject.toml``. ``environment.yml`` (Binder) is generated from it.

``python -m course_utils sync-env`` rewrites environment.yml; ``--check`` fails if it is stale.
"""
from __future__ import annotations

import re
import tomllib

from .paths import REPO_ROOT

PYPROJECT = REPO_ROOT / "pyproject.toml"
ENVIRONMENT_YML = REPO_ROOT / "environment.yml"
# PyPI's Linux torch wheels bundle CUDA (GBs). Binder must take the CPU build from PyTorch's own index.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*$")


def parse_pin(spec: str) -> tuple[str, str]:
    """``"torch==2.13.0"`` → ``("torch", "2.13.0")``; anything not pinned exactly is an error."""
    m = _PIN.match(spec)
    if not m:
        raise ValueError(f"dependency {spec!r} is not pinned with '==' (the course pins everything)")
    return m.group(1).lower().replace("_", "-"), m.group(2)


def pyproject_pins(*, extras: tuple[str, ...] = ()) -> dict[str, str]:
    """Pinned runtime dependencies (plus the named extras) from pyproject.toml."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return dict(parse_pin(s) for s in specs)


def python_requirement() -> str:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    m = re.search(r">=\s*(\d+\.\d+)", project["requires-python"])
    if not m:
        raise ValueError("requires-python must have a lower bound like '>=3.11'")
    return m.group(1)


def render_environment_yml() -> str:
    """The Binder environment: conda-forge Python + pip with exactly pyproject's pins."""
    pins = pyproject_pins(extras=("test",))
    lines = [
        "# GENERATED from pyproject.toml by `python -m course_utils sync-env`; do not edit by hand.",
        "# Binder (repo2docker) reads this file; postBuild then installs course_utils itself.",
        "name: pruning-hands-on",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python_requirement()}",
        "  - pip",
        "  - pip:",
        f"      - --extra-index-url {TORCH_CPU_INDEX}",
    ]
    lines += [f"      - {name}=={ver}" for name, ver in sorted(pins.items())]
    return "\n".join(lines) + "\n"


def environment_yml_pins(text: str | None = None) -> dict[str, str]:
    """Pins listed in environment.yml's pip section."""
    text = ENVIRONMENT_YML.read_text() if text is None else text
    pins = {}
    for line in text.splitlines():
        item = line.strip()
        if item.startswith("- ") and "==" in item:
            name, ver = parse_pin(item[2:])
            pins[name] = ver
    return pins


def sync_environment_yml(*, check: bool = False) -> bool:
    """Write environment.yml from pyproject (or, with ``check``, only report whether it is current)."""
    want = render_environment_yml()
    have = ENVIRONMENT_YML.read_text() if ENVIRONMENT_YML.exists() else ""
    if check:
        return want == have
    ENVIRONMENT_YML.write_text(want)
    return True
