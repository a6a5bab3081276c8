"""``build_report(run_dir) -> Path``: one self-contained ``report.html`` for a run.

The page holds, as inline base64 PNGs (no external files, scripts or fonts): D and G losses and
D's outputs over training, every registered evaluation metric with a curve over training (one plot
per metric and per feature extractor, with the real-data value as a dashed line, in the metric's
report panel), sample grids over time, and the originality panel of the latest evaluation (worst
near-copies above their training twins). The latest evaluation's table has one column per
registered metric (``ganstudio.evaluation.registry``). The same plots are written as PNG files to
``RUN_DIR/report/``. Plots use matplotlib's Agg backend.

Evaluations come from ``eval/*.json`` (``ganstudio evaluate`` and ``--eval-every``) and the
``{"step", "eval"}`` rows of metrics.jsonl.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from . import media, runs
from .errors import UserError
from .evaluation import read_evals
from .evaluation.registry import metrics, panels, shown
from .evaluation.table import table_rows
from .fsutil import atomic_write_bytes

MAX_GRIDS = 8  # sample grids shown over time


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UserError("ganstudio report needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def _line_plot(
    title: str,
    xlabel: str,
    series: dict[str, tuple[list, list]],
    ylabel: str = "",
    hlines: dict[str, float] | None = None,
    logy: bool = False,
) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for label, (x, y) in series.items():
        ax.plot(x, y, label=label, marker="o" if len(x) < 30 else None, markersize=3, linewidth=1.2)
    for i, (label, v) in enumerate((hlines or {}).items()):
        ax.axhline(v, linestyle="--", linewidth=1, color=f"C{i + len(series)}", label=label)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if logy and all(v > 0 for _, y in series.values() for v in y):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(series) + len(hlines or {}) > 1:
        ax.legend(fontsize=8)
    return _png(fig)


def _training_plots(rows: list[dict]) -> list[tuple[str, str, bytes]]:
    train = [r for r in rows if "d_loss" in r]
    out: list[tuple[str, str, bytes]] = []
    if not train:
        return out
    steps = [r["step"] for r in train]

    def series(keys: dict[str, str]) -> dict[str, tuple[list, list]]:
        return {
            label: ([r["step"] for r in train if k in r], [r[k] for r in train if k in r])
            for k, label in keys.items()
            if any(k in r for r in train)
        }

    losses = series({"d_loss": "D loss", "g_loss": "G loss"})
    out.append(("losses", "Losses", _line_plot("D and G losses", "step", losses)))
    d_out = series({"d_real": "D(x) real", "d_fake": "D(G(z)) fake"})
    if d_out:
        out.append(("d_outputs", "Discriminator outputs", _line_plot("D outputs (mean, as logged)", "step", d_out)))
    if any("images_per_s" in r for r in train) and len(steps) > 1:
        out.append(
            ("speed", "Training speed", _line_plot("images per second", "step", series({"images_per_s": "images/s"})))
        )
    return out


def _eval_series(run_dir: Path, rows: list[dict]) -> dict[str, dict]:
    """extractor label (+ n, reference) -> {"steps": {step: generated row}, "real": real row or None}."""
    groups: dict[str, dict] = {}
    for ev in read_evals(run_dir):
        key = f"{ev['extractor_label']} (n={ev['n']}, ref {ev['reference']})"
        g = groups.setdefault(key, {"steps": {}, "real": None})
        g["steps"][ev["step"]] = ev["rows"]["generated"]
        g["real"] = ev["rows"]["real"]
    names = [m.name for m in metrics()]
    for r in rows:  # hook rows whose JSON is missing
        hook_ev = r.get("eval")
        if isinstance(hook_ev, dict) and any(k in hook_ev for k in names):
            key = f"{hook_ev.get('extractor', '?')} (n={hook_ev.get('n', '?')}, ref {hook_ev.get('reference', '?')})"
            g = groups.setdefault(key, {"steps": {}, "real": None})
            g["steps"].setdefault(r["step"], hook_ev)
    return groups


def _metric_plots(groups: dict[str, dict], panel: str) -> list[tuple[str, str, bytes]]:
    """One curve per registered metric of ``panel`` and per extractor group, real value dashed."""
    out = []
    for gi, (label, g) in enumerate(sorted(groups.items())):
        steps = sorted(g["steps"])
        for m in metrics():
            if m.curve is None or m.panel != panel:
                continue
            pts = [(s, g["steps"][s][m.name]) for s in steps if g["steps"][s].get(m.name) is not None]
            if not pts:
                continue
            real = g["real"].get(m.name) if g["real"] else None
            png = _line_plot(
                f"{m.label} -- {label}",
                "step",
                {"generated": ([p[0] for p in pts], [p[1] for p in pts])},
                hlines={"real data": real} if real is not None else None,
                logy=m.curve == "log",
            )
            out.append((f"metric_{m.name}_{gi}", f"{m.label} ({label})", png))
    return out


def _samples_plot(run_dir: Path) -> bytes | None:
    grids = sorted((run_dir / "samples").glob("step-*.png"))
    if not grids:
        return None
    if len(grids) > MAX_GRIDS:
        idx = sorted({round(i * (len(grids) - 1) / (MAX_GRIDS - 1)) for i in range(MAX_GRIDS)})
        grids = [grids[i] for i in idx]
    plt = _pyplot()
    from PIL import Image

    cols = min(4, len(grids))
    nrows = (len(grids) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 3.4 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, p in zip(axes.flat, grids):
        with Image.open(p) as im:
            ax.imshow(media.flatten_pil(im).convert("RGB"), interpolation="nearest")  # RGBA runs: over white
        ax.set_title(f"step {int(p.stem.split('-')[1])}", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _table_html(ev: dict) -> str:
    rows = table_rows(ev)
    cols = shown(r for _, r in rows)
    head = "".join(f"<th>{html.escape(m.label)}</th>" for m in cols)
    body = "".join(
        f"<tr><th>{html.escape(title)}</th>" + "".join(f"<td>{html.escape(m.format(r))}</td>" for m in cols) + "</tr>"
        for title, r in rows
    )
    ext = ev["extractor"]
    return (
        f"<p>Step {ev['step']}, {ev['n']} samples, features <b>{html.escape(ev['extractor_label'])}</b> "
        f"({html.escape(ext.get('description', ''))}). Reference: {html.escape(ev['data']['reference'])}; "
        f"real row: {html.escape(ev['data']['real_row'])}. Numbers are comparable only under the same "
        f"features, n and reference.</p><table><tr><th></th>{head}</tr>{body}</table>"
    )


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` (default ``RUN_DIR/report.html``) and ``RUN_DIR/report/*.png``; returns the HTML path."""
    run_dir = runs.require_run(run_dir)
    cfg = runs.read_config_dict(run_dir)
    rows = runs.read_metrics(run_dir)
    sections: list[tuple[str, list[tuple[str, str, bytes]]]] = []
    sections.append(("Training", _training_plots(rows)))
    groups = _eval_series(run_dir, rows)
    for panel in panels():
        sections.append((panel, _metric_plots(groups, panel)))
    samples = _samples_plot(run_dir)
    sections.append(("Samples over time", [("samples", "Fixed-noise sample grids", samples)] if samples else []))
    evals = read_evals(run_dir)
    latest = evals[-1] if evals else None
    originality_png: bytes | None = None
    if latest and latest.get("originality", {}).get("panel"):
        p = run_dir / latest["originality"]["panel"]
        if p.is_file():
            originality_png = p.read_bytes()
    fitted = bool(latest and latest.get("originality", {}).get("generated", {}).get("invariance"))
    caption = (
        "Closest to a training image: generated (top), its nearest training image as the search fitted it "
        "(moved, mirrored or zoomed; middle) and as it is in the data (bottom)"
        if fitted
        else "Closest to a training image: generated (top) above its nearest training image (bottom)"
    )
    sections.append(("Originality", [("originality", caption, originality_png)] if originality_png else []))

    plot_dir = run_dir / "report"
    written = set()
    for _, items in sections:
        for name, _, png in items:
            atomic_write_bytes(plot_dir / f"{name}.png", png)
            written.add(f"{name}.png")
    for stale in plot_dir.glob("*.png"):
        if stale.name not in written:
            stale.unlink(missing_ok=True)

    train = cfg.get("train", {})
    last: dict = next((r for r in reversed(rows) if "d_loss" in r), {})
    summary = (
        f"<p>model <b>{html.escape(str(cfg.get('model')))}</b> on "
        f"<b>{html.escape(str(cfg.get('data', {}).get('name')))}</b>; "
        f"batch {train.get('batch_size')}, loss {html.escape(str(train.get('loss')))}, "
        f"lr G/D {train.get('lr_g')}/{train.get('lr_d')}; trained {last.get('step', 0)} steps "
        f"({last.get('epoch', 0)} epochs) in {last.get('wall_s', 0):.0f} s.</p>"
    )
    parts = [f"<h1>{html.escape(run_dir.name)}</h1>", summary]
    if latest:
        parts.append("<h2>Latest evaluation</h2>" + _table_html(latest))
        orig = latest.get("originality", {}).get("generated", {})
        if orig:
            inv = orig.get("invariance")
            space = (
                f"pixels, forgiving moves of up to {inv['max_shift']} px"
                + (", mirrors" if inv.get("flips") else "")
                + (f" and crops to {inv['min_crop']:.0%}" if inv.get("min_crop", 1) < 1 else "")
                if inv
                else "pixel space"
            )
            parts.append(
                f"<p>Originality ({html.escape(space)}): {orig.get('copy_fraction', 0):.2%} of samples are "
                f"near-copies (threshold {orig.get('threshold', 0):.3f}); median distance ratio to the nearest "
                f"training image {orig.get('median_ratio', 0):.3f} (about 1 for new images from the data "
                f"distribution, far below 1 for copies).</p>"
            )
    else:
        parts.append(
            "<p><i>No evaluations yet: run <code>ganstudio evaluate RUN_DIR</code> or train with "
            "<code>--eval-every N</code>.</i></p>"
        )
    for title, items in sections:
        if not items:
            continue
        parts.append(f"<h2>{html.escape(title)}</h2>")
        for name, caption, png in items:
            b64 = base64.b64encode(png).decode()
            parts.append(
                f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{b64}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "figure{margin:1em 0}img{max-width:100%;image-rendering:pixelated}figcaption{font-size:90%;color:#555}"
    )
    doc = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(run_dir.name)} report</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    path = Path(out) if out is not None else run_dir / "report.html"
    atomic_write_bytes(path, doc.encode())
    return path


__all__ = ["build_report"]
