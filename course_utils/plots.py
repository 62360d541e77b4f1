"""Figures used across the course (matplotlib only; no framework imports).

Every function returns the matplotlib ``Figure`` so a notebook can save or tweak it, and
accepts plain numpy data, so it works for PyTorch and TensorFlow alike.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

_STYLE = {
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 11,
}


def _plt():
    import matplotlib.pyplot as plt

    plt.rcParams.update(_STYLE)
    return plt


def digit_grid(images: np.ndarray, labels: Sequence[int] | None = None, *, ncols: int = 10, title: str = ""):
    """A grid of 28x28 digits. Introduced in 00_index.

    ``images``: (N, 28, 28) or (N, 784) array; ``labels``: optional, shown above each digit.
    """
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"digit_grid wants (N, 28, 28) or (N, 784) images, got shape {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    if ncols < 1:
        raise ValueError("ncols must be >= 1")
    plt = _plt()
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 0.9, nrows * 1.0), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray_r")
            if labels is not None:
                ax.set_title(str(int(labels[i])), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def class_counts(counts: Mapping[str, Sequence[int]], *, title: str = "Images per class"):
    """Grouped bars of images per class for each split. Introduced in 00_index."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3))
    width = 0.8 / max(1, len(counts))
    for i, (name, c) in enumerate(counts.items()):
        c = np.asarray(c)
        ax.bar(np.arange(len(c)) + i * width, c, width=width, label=f"{name} ({int(c.sum())})")
    ax.set_xticks(np.arange(10) + width * (len(counts) - 1) / 2, [str(d) for d in range(10)])
    ax.set_xlabel("digit")
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def weight_histograms(weights: Mapping[str, np.ndarray], *, bins: int = 80, log: bool = True, title: str = ""):
    """One histogram of weight values per layer. Introduced in 03_regularization_and_early_stopping_pytorch.

    Zeros (pruned weights) are counted separately and written in the panel title, so a spike at 0
    does not hide the shape of the surviving weights.
    """
    if not weights:
        raise ValueError("weight_histograms needs at least one layer")
    plt = _plt()
    fig, axes = plt.subplots(1, len(weights), figsize=(4 * len(weights), 3), squeeze=False)
    for ax, (name, w) in zip(axes[0], weights.items()):
        w = np.asarray(w).ravel()
        nz = w[w != 0]
        ax.hist(nz, bins=bins, color="tab:blue", alpha=0.8, log=log)
        ax.set_title(f"{name}: {w.size:,} weights, {1 - nz.size / max(1, w.size):.0%} zero", fontsize=10)
        ax.set_xlabel("weight value")
    axes[0][0].set_ylabel("count" + (" (log)" if log else ""))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def sparsity_bars(per_layer: Mapping[str, float] | Mapping[str, Mapping[str, float]], *,
                  title: str = "Sparsity per layer"):
    """Bars of sparsity (fraction 0–1 of zeros) per layer. Introduced in 02_weight_pruning_pytorch.

    ``per_layer`` is ``{layer: sparsity}`` or ``{method: {layer: sparsity}}`` for grouped bars.
    """
    if not per_layer:
        raise ValueError("sparsity_bars needs at least one layer")
    first = next(iter(per_layer.values()))
    groups = per_layer if isinstance(first, Mapping) else {"": per_layer}
    layers = list(next(iter(groups.values())).keys())
    for g in groups.values():
        for v in g.values():
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"sparsity must be a fraction in [0, 1], got {v}")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(layers) * len(groups)), 3.2))
    width = 0.8 / len(groups)
    for i, (gname, g) in enumerate(groups.items()):
        vals = [float(g.get(layer, np.nan)) for layer in layers]
        bars = ax.bar(np.arange(len(layers)) + i * width, vals, width=width, label=gname or None)
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in vals], fontsize=8)
    ax.set_xticks(np.arange(len(layers)) + width * (len(groups) - 1) / 2, layers)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("sparsity (fraction of zeros)")
    ax.set_title(title)
    if len(groups) > 1:
        ax.legend()
    fig.tight_layout()
    return fig


def tradeoff_curve(
    curves: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    xlabel: str = "sparsity (fraction of weights removed)",
    ylabel: str = "test accuracy",
    reference: float | None = None,
    title: str = "",
):
    """Accuracy (or loss) against sparsity, one line per method, mean ± std over seeds.

    ``curves[name] = {"x": [...], "mean": [...], "std": [...]}`` (``std`` optional), or
    ``{"x": [...], "y": [[seed0...], [seed1...]]}`` and the mean/std are computed here.
    ``reference`` draws a horizontal dashed line (e.g. dense accuracy).
    Introduced in 02_weight_pruning_pytorch.
    """
    if not curves:
        raise ValueError("tradeoff_curve needs at least one curve")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, c in curves.items():
        x = np.asarray(c["x"], dtype=float)
        if "y" in c:
            y = np.atleast_2d(np.asarray(c["y"], dtype=float))
            mean, std = y.mean(axis=0), y.std(axis=0)
        else:
            mean = np.asarray(c["mean"], dtype=float)
            std = np.asarray(c.get("std", np.zeros_like(mean)), dtype=float)
        if mean.shape != x.shape:
            raise ValueError(f"curve {name!r}: {mean.shape[0]} values for {x.shape[0]} x positions")
        (line,) = ax.plot(x, mean, marker="o", label=name)
        if np.any(std > 0):
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1, label="dense")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def loss_before_after(rows: Mapping[str, tuple[float, float]], *,
                      title: str = "Loss before and after removing weights"):
    """Paired bars of (L_before, L_after) per choice of W_p. Introduced in 01_loss_before_and_after_pytorch."""
    if not rows:
        raise ValueError("loss_before_after needs at least one row")
    plt = _plt()
    names = list(rows)
    before = [rows[n][0] for n in names]
    after = [rows[n][1] for n in names]
    fig, ax = plt.subplots(figsize=(1.8 * len(names) + 2, 3.5))
    x = np.arange(len(names))
    b1 = ax.bar(x - 0.2, before, 0.4, label="L_before = f(W, X)")
    b2 = ax.bar(x + 0.2, after, 0.4, label="L_after = f(W - W_p, X)")
    ax.bar_label(b1, fmt="%.3f", fontsize=8)
    ax.bar_label(b2, fmt="%.3f", fontsize=8)
    ax.set_xticks(x, names)
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def mask_image(mask: np.ndarray, *, title: str = "", max_rows: int = 300):
    """Show a 2-D keep/prune mask (1 kept, 0 pruned) as an image.

    A mask of a first layer (out, 784) can also be shown per input pixel with ``mask_pixels``.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask_image wants a 2-D mask, got shape {mask.shape}")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.imshow(mask[:max_rows] != 0, aspect="auto", cmap="Greys", interpolation="nearest")
    ax.set_xlabel("input")
    ax.set_ylabel("output unit")
    ax.grid(False)
    ax.set_title(title or f"mask: {np.mean(mask != 0):.1%} kept (black)")
    fig.tight_layout()
    return fig


def mask_pixels(first_layer_mask: np.ndarray, *, title: str = "Connections kept per input pixel"):
    """Fraction of kept connections per input pixel of a (out, 784) first-layer mask, as a 28x28 image."""
    m = np.asarray(first_layer_mask)
    if m.ndim != 2 or m.shape[1] != 784:
        raise ValueError(f"mask_pixels wants a (units, 784) mask, got shape {m.shape}")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    im = ax.imshow((m != 0).mean(axis=0).reshape(28, 28), cmap="viridis", vmin=0, vmax=1)
    ax.grid(False)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def bars(values: Mapping[str, float], *, ylabel: str, title: str = "", fmt: str = "{:.2f}"):
    """Simple labelled bar chart (e.g. latency per model, bytes per format)."""
    if not values:
        raise ValueError("bars needs at least one value")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.4 * len(values) + 2, 3.2))
    b = ax.bar(list(values), [float(v) for v in values.values()], color="tab:blue")
    ax.bar_label(b, labels=[fmt.format(float(v)) for v in values.values()], fontsize=8)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


class Table:
    """A Markdown table that renders in Jupyter and prints as text (what :func:`table` returns)."""

    def __init__(self, markdown: str):
        self.markdown = markdown

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __str__(self) -> str:
        return self.markdown

    __repr__ = __str__


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, floatfmt: str = "{:.3f}") -> Table:
    """A table of ``rows`` under ``headers``, shown as Markdown when it is the last expression of a cell
    (or passed to ``display``). Strings are shown as given; floats are formatted with ``floatfmt``; ints get
    thousands separators. Every row must have one cell per header. Introduced in 01_loss_before_and_after_pytorch.
    """
    headers = [str(h) for h in headers]
    if not headers:
        raise ValueError("table needs at least one header")

    def cell(v: object) -> str:
        if isinstance(v, bool) or v is None:
            return "—" if v is None else str(v)
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        if isinstance(v, (float, np.floating)):
            return floatfmt.format(float(v))
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells for {len(headers)} headers: {row!r}")
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return Table("\n".join(lines))
