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

``build_robustness_report(run_dir, detector=...) -> Path`` writes the robustness and originality page
(``RUN_DIR/robustness.html``, as self-contained): the provenance detector's verdicts on the run's samples,
the shift-invariant near-copy check of the latest evaluation, FID fragility and the attack / purification
results found in ``RUN_DIR/robustness/`` (``ganstudio robustness report``).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from . import media, runs
from .errors import UserError
from .evaluation import read_evals
from .evaluation.registry import metrics, panels
from .evaluation.table import table_columns
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
    header, lines = table_columns(ev)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header[1:])
    body = "".join(
        f"<tr><th>{html.escape(line[0])}</th>" + "".join(f"<td>{html.escape(c)}</td>" for c in line[1:]) + "</tr>"
        for line in lines
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


# ---------------------------------------------------------------------------------------------
# the robustness and originality page: ``build_robustness_report``

ROBUSTNESS_PAGE = "robustness.html"
STRIP = 8  # samples shown with the detector's verdict
VERDICT_PERTURBATIONS = ("clean", "jpeg75", "jpeg50")  # conditions the detector's verdicts are reported under


def result_kind(d: object) -> str | None:
    """Which robustness result a JSON document is: ``attack`` (``ganstudio robustness attack``: accuracy vs
    eps), ``prompt`` (the typo attack), ``purify``, ``fragility`` (``robustness fragility``), ``detector``
    (``detector evaluate --json``), or None."""
    if not isinstance(d, dict):
        return None
    rows = d.get("rows")
    if d.get("judge") == "prompt" and "flip_rate" in d:
        return "prompt"
    if isinstance(d.get("projection"), dict) and isinstance(d.get("accuracy"), dict):
        return "purify"
    if not isinstance(rows, list):
        return None
    if isinstance(d.get("clean"), dict) and all(isinstance(r, dict) and "mode" in r for r in rows):
        return "fragility"
    if isinstance(d.get("attack"), str) and "clean_accuracy" in d:
        return "attack"
    if "threshold" in d and all(isinstance(r, dict) and "ap" in r for r in rows):
        return "detector"
    return None


def _read_result(path: Path, given: bool) -> tuple[str, dict] | None:
    """(kind, document) of a result file; a file the user named must be one (UserError), a found one may not."""
    import json

    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        if given:
            raise UserError(
                f"cannot read --results {path}: {type(e).__name__}; give a JSON file a robustness command wrote"
            ) from None
        return None
    kind = result_kind(d)
    if kind is None and given:
        raise UserError(
            f"{path} is not a robustness result; give the JSON of `ganstudio robustness attack|purify|fragility` "
            "or `ganstudio detector evaluate --json`"
        )
    return (kind, d) if kind else None


def robustness_results(run_dir: str | Path, extra: list[str | Path] | tuple = ()) -> list[tuple[str, Path, dict]]:
    """Every robustness result of a run: ``RUN/robustness/*.json``, ``RUN/eval/fragility-*.json`` and the
    ``extra`` files (which must be results). Returns (kind, path, document), found files first, sorted."""
    run_dir = Path(run_dir)
    named = [Path(p) for p in extra]
    for p in named:
        if not p.is_file():
            raise UserError(f"--results {p} does not exist; give a JSON file a robustness command wrote")
    out = []
    found = sorted((run_dir / "robustness").glob("*.json")) + sorted((run_dir / "eval").glob("fragility-*.json"))
    seen = set()
    for p, given in [*((p, False) for p in found), *((p, True) for p in named)]:
        key = p.resolve()
        if key in seen:
            continue
        seen.add(key)
        got = _read_result(p, given)
        if got:
            out.append((got[0], p, got[1]))
    return out


def _esc(v: object) -> str:
    return html.escape(str(v))


def _pct(v: object) -> str:
    return f"{100 * v:.1f} %" if isinstance(v, (int, float)) and v == v else "-"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _png_uri(array: np.ndarray, scale: int = 1) -> str:
    """A uint8 (H, W) or (H, W, C) picture, enlarged ``scale`` times with crisp pixels, as an inline data: URI."""
    im = media.to_pil(array, scale)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _detector_section(run_dir: Path, det, det_path: str, n: int, seed: int, checkpoint: str) -> str:
    """Measure the detector on the run's samples and real pictures of its data; the HTML of the result."""
    from dataclasses import replace

    import torch

    from .config import RunConfig
    from .data import SOURCES, load_dataset
    from .robustness import detector as D

    cfg = RunConfig.from_dict(runs.read_config_dict(run_dir))
    fake = D.pictures_from(str(run_dir), n, seed=seed, checkpoint=checkpoint)
    src = SOURCES.get(cfg.data.name)
    split = "test" if src is not None and src.test_split else "train"
    ds = load_dataset(replace(cfg.data, split=split))
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    real = ds.images[idx]
    rows = D.evaluate(det, real, {run_dir.name: fake}, VERDICT_PERTURBATIONS)
    probs = det.probability(fake)
    called = int((probs > det.threshold).sum())
    strip = []
    shown_pics = D.shape_pictures(fake[:STRIP], 1 if fake.shape[1] == 1 else 3, (fake.shape[2], fake.shape[3]))
    for i, pic in enumerate(shown_pics):
        a = media.hwc(pic.numpy())
        uri = _png_uri(a, scale=max(1, 64 // max(a.shape[:2])))
        verdict = "generated" if float(probs[i]) > det.threshold else "real"
        strip.append(
            f'<figure class="pic"><img alt="sample seed {seed + i}" src="{uri}">'
            f"<figcaption>seed {seed + i}<br>{float(probs[i]):.3f} {verdict}</figcaption></figure>"
        )
    table = _html_table(
        ["condition", "AP", "accuracy", "real called real", "samples called generated", "calibration error"],
        [
            [
                r["perturbation"],
                _pct(r["ap"]),
                _pct(r["accuracy"]),
                _pct(r["real_accuracy"]),
                _pct(r["fake_accuracy"]),
                f"{r['ece']:.3f}",
            ]
            for r in rows
        ],
    )
    info = det.info
    trained = info.get("trained_on", {})
    rob = info.get("validation", {}).get("robust")
    adv = (
        f" It was adversarially trained (PGD at eps {det.config.adv_eps:.4g}); on its validation pictures "
        f"PGD-{rob['steps']} at that eps leaves {_pct(rob['accuracy'])} accuracy (clean {_pct(rob['clean_accuracy'])})."
        if rob
        else ""
    )
    sim = (
        f" Its generated class also held real pictures passed through {det.config.simulate} simulated "
        "generator decoders (--simulate), which is what lets it judge generator families it never saw."
        if det.config.simulate
        else " It saw one generator family only (no --simulate): expect it to miss families it never saw."
    )
    return (
        f"<p>Detector <code>{_esc(det_path)}</code>, {_esc(D.KINDS[det.config.kind].description)}, trained on "
        f"{_esc(trained.get('real', '?'))} vs {_esc(', '.join(map(str, trained.get('fake', []))) or '?')}; it calls "
        f"a picture generated above probability {det.threshold:.3f}.{_esc(adv)}{_esc(sim)}</p>"
        f"<p><b>{called} of {len(fake)}</b> samples of this run (seeds {seed}..{seed + len(fake) - 1}) are called "
        f"generated; {len(real)} real pictures of {_esc(cfg.data.name)} ({split} split) are the other side of the "
        f"table.</p>{table}<div class='strip'>{''.join(strip)}</div>"
        f"<p>One picture file: <code>ganstudio detect picture.png --detector {_esc(det_path)}</code>.</p>"
    )


def _originality_section(run_dir: Path, latest: dict | None) -> str:
    if not latest or not latest.get("originality", {}).get("generated"):
        return _missing(f"ganstudio evaluate {run_dir}")
    o = latest["originality"]
    gen, real = o["generated"], o.get("real", {})
    inv = gen.get("invariance")
    forgives = (
        f"moved by up to {inv['max_shift']} px"
        + (", mirrored" if inv.get("flips") else "")
        + (f" or cropped to {inv['min_crop']:.0%}" if inv.get("min_crop", 1) < 1 else "")
        if inv
        else "no moves (plain pixel distance)"
    )
    parts = [
        f"<p>Step {latest['step']}, {latest['n']} samples searched against {_esc(latest['data'].get('twins', 'training pictures'))}, "
        f"forgiving a training picture {_esc(forgives)}.</p>",
        _html_table(
            ["pictures", "near-copies", "share", "median distance ratio"],
            [
                [
                    "generated",
                    str(gen.get("num_flagged", "-")),
                    _pct(gen.get("copy_fraction")),
                    f"{gen.get('median_ratio', float('nan')):.3f}",
                ],
                [
                    "real, held out (false alarms)",
                    str(real.get("num_flagged", "-")),
                    _pct(real.get("copy_fraction")),
                    f"{real.get('median_ratio', float('nan')):.3f}",
                ],
            ],
        ),
    ]
    worst = [w for w in gen.get("worst", []) if "twin_edit" in w][:4]
    if worst:
        parts.append(
            "<p>Closest samples and how their training twin was fitted: "
            + "; ".join(
                f"seed {w['seed']} ~ training picture {w['train_index']} "
                f"({'mirrored, ' if w['twin_edit']['mirrored'] else ''}moved {w['twin_edit']['move_px'][0]:g}, "
                f"{w['twin_edit']['move_px'][1]:g} px, zoom {w['twin_edit']['zoom']:.2f})"
                for w in worst
            )
            + "</p>"
        )
    panel = o.get("panel")
    if panel and (run_dir / panel).is_file():
        uri = "data:image/png;base64," + base64.b64encode((run_dir / panel).read_bytes()).decode()
        parts.append(
            f'<figure><img alt="originality panel" src="{uri}"><figcaption>The samples closest to a training '
            "picture (top) above their training twins (fitted, then as in the data)</figcaption></figure>"
        )
    return "".join(parts)


def _fragility_section(latest: dict | None, results: list[tuple[str, Path, dict]]) -> str:
    parts = []
    f = latest.get("fragility") if latest else None
    if latest and f:
        parts.append(
            f"<p>Evaluation at step {latest['step']} ({_esc(latest['extractor_label'])}): FID {f['clean_fid']:.3f}; "
            f"changes of at most {f['eps_255']:g}/255 per pixel reach "
            + ", ".join(
                f"{name} {f[key]:.3f}"
                for key, name in (("fid_down", "down"), ("fid_random", "random"), ("fid_up", "up"))
                if f.get(key) is not None
            )
            + ".</p>"
        )
    for _, path, d in (r for r in results if r[0] == "fragility"):
        c = d["clean"]
        parts.append(
            f"<p><code>{_esc(path.name)}</code>: features {_esc(d['extractor'].get('name'))}, {d['n_fake']} samples vs "
            f"{d['n_real']} real pictures, clean FID {c['fid']:.3f}.</p>"
        )
        parts.append(
            _html_table(
                ["change (x/255)", "pushed", "FID", "change"],
                [
                    [
                        f"{r['eps_255']:g}",
                        r["mode"],
                        f"{r['fid']:.3f}",
                        f"{r['fid_change']:+.3f}"
                        + (f" ({100 * r['fid_change_rel']:+.1f} %)" if r.get("fid_change_rel") is not None else ""),
                    ]
                    for r in d["rows"]
                ],
            )
        )
    return "".join(parts) or _missing("ganstudio evaluate RUN --fragility 2/255", "ganstudio robustness fragility RUN")


def _attacks_section(results: list[tuple[str, Path, dict]]) -> str:
    parts = []
    for kind, path, d in results:
        if kind == "attack":
            judge = d.get("judge", {})
            name = judge.get("judge") or judge.get("name") or judge.get("label") or "?"
            checks = (
                "accuracy never rises with eps"
                if d.get("monotone")
                else "accuracy ROSE with eps somewhere: the attack is too weak there"
            ) + ("; eps 0 gives the clean accuracy" if d.get("eps0_equals_clean") else "")
            parts.append(
                f"<h3>{_esc(d['attack'])} against the {_esc(name)} judge"
                + (f" <code>{_esc(Path(str(judge['path'])).name)}</code>" if judge.get("path") else "")
                + "</h3>"
                f"<p><code>{_esc(path.name)}</code>: "
                f"{d['n']} {_esc(d.get('data', ''))} pictures, {d['steps']} steps, clean accuracy {_pct(d['clean_accuracy'])}; "
                f"{_esc(checks)}.</p>"
            )
            parts.append(
                _html_table(
                    ["eps (pixels in [0, 1])", "x/255", "accuracy under attack"],
                    [[f"{r['eps']:.4g}", f"{255 * r['eps']:.3g}", _pct(r["accuracy"])] for r in d["rows"]],
                )
            )
        elif kind == "purify":
            a, acc = d["attack"], d["accuracy"]
            parts.append(
                f"<h3>Purification by projection onto the generator</h3><p><code>{_esc(path.name)}</code>: {a['kind']} at eps "
                f"{a['eps']:.4g}, {d['n']} pictures. The adaptive attack (BPDA + EOT) is the honest number; the naive one "
                "only shows what an attacker who ignores the defence would get.</p>"
            )
            parts.append(
                _html_table(
                    ["setting", "accuracy"],
                    [
                        ["classifier, clean", _pct(acc["classifier_clean"])],
                        ["classifier, attacked", _pct(acc["classifier_pgd"])],
                        ["purified, clean", _pct(acc["purified_clean"])],
                        ["purified, naive attack", _pct(acc["purified_naive"])],
                        ["purified, adaptive attack (BPDA + EOT)", _pct(acc["purified_bpda_eot"])],
                    ],
                )
            )
        elif kind == "prompt":
            parts.append(
                f"<h3>One-typo attack on the prompt to class mapping</h3><p><code>{_esc(path.name)}</code>: "
                f"{_pct(d['flip_rate'])} of {d['n']} prompts change meaning with one typo "
                f"({_pct(d['wrong_class_rate'])} to another class, {_pct(d['refused_rate'])} refused).</p>"
            )
        elif kind == "detector":
            parts.append(
                f"<h3>Detector evaluation</h3><p><code>{_esc(path.name)}</code>: detector {_esc(d.get('detector', '?'))}, "
                f"threshold {d['threshold']:.3f}.</p>"
            )
            parts.append(
                _html_table(
                    ["generated by", "condition", "AP", "accuracy", "calibration error"],
                    [
                        [
                            Path(str(r.get("fake", "?"))).name,
                            r.get("perturbation", "?"),
                            _pct(r["ap"]),
                            _pct(r.get("accuracy")),
                            f"{r.get('ece', float('nan')):.3f}",
                        ]
                        for r in d["rows"]
                    ],
                )
            )
    return "".join(parts) or _missing(
        "ganstudio robustness attack --judge classifier --data DATA --eps 0,2/255,0.1 --out RUN/robustness/attack.json",
        "ganstudio robustness purify RUN",
    )


def _missing(*commands: str) -> str:
    return "<p class='missing'>Not measured yet: " + " or ".join(f"<code>{_esc(c)}</code>" for c in commands) + ".</p>"


EXPLAIN = {
    "provenance": (
        "A detector trained on real pictures against generated ones gives each picture the probability that "
        "a GAN made it. AP (average precision) is 100 % when it ranks every generated picture above every real "
        "one and about 50 % for a coin toss; accuracy is at the threshold it chose on its own validation "
        "pictures. JPEG 75 and 50 are what a picture goes through when it is shared online: a detector that only "
        "works on pristine files says little about pictures found in the wild."
    ),
    "originality": (
        "Each sample is compared with the training pictures, forgiving small moves, mirroring and light crops, "
        "so a shifted copy still counts as a copy. A sample is flagged when it is closer to a training picture "
        "than training pictures are to each other. The same rule applied to real pictures the generator never "
        "saw gives the false-alarm rate: the generated share means something only well above it. A median "
        "distance ratio near 1 means new pictures from the same world; far below 1 means copies."
    ),
    "fragility": (
        "FID, the usual quality score (lower is better), compares the statistics of features of generated and "
        "real pictures. Here every generated picture is changed by at most a few grey levels per pixel, "
        "invisible to a viewer, either at random or steered to push the score down or up. Differences between "
        "two models smaller than these swings are not evidence that one is better."
    ),
    "attacks": (
        "The classifiers behind our metrics, prompts and the detector are judges. An attack searches for the "
        "smallest change of a picture (at most eps per pixel) that makes a judge answer wrongly; accuracy under "
        "attack says how much of its judgement survives. The checks beside each table (accuracy never rises "
        "with eps, eps 0 gives the clean accuracy) catch a broken attack; a defence is only credited against an "
        "attack that knows about it (adaptive: BPDA + EOT)."
    ),
}


def build_robustness_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    detector: str | Path | None = None,
    n: int = 200,
    results: list[str | Path] | tuple = (),
    seed: int = 1_000_000,
    checkpoint: str = "latest",
) -> Path:
    """Write one self-contained HTML page (default ``RUN_DIR/robustness.html``; inline PNGs, no scripts, no
    external files) of what has been measured about a run's robustness and originality, with short
    explanations for curators: the detector's verdicts on ``n`` of its samples (seeds ``seed``.., unseen by a
    detector trained with the default seeds) and on as many real pictures, clean and after JPEG 75/50, when
    ``detector`` (a folder) is given; the near-copy check of the latest evaluation (shift/mirror/crop
    invariant, with the real pictures' false-alarm rate); FID fragility (``evaluate --fragility`` and
    ``robustness fragility``); attack, purification and detector-evaluation results found in
    ``RUN_DIR/robustness/*.json`` or named in ``results``. Every input is checked before anything is
    measured or written. Returns the page's path."""
    run_dir = runs.require_run(run_dir)
    path = Path(out) if out is not None else run_dir / ROBUSTNESS_PAGE
    if path.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"--out must name an .html file, got {path}")
    if path.is_dir():
        raise UserError(f"--out {path} is a folder; name an .html file")
    if n < 2:
        raise UserError(f"--n must be at least 2 (the detector's scores need pictures of both kinds), got {n}")
    det = None
    if detector is not None:
        from .robustness.detector import load_detector

        det = load_detector(detector)
    found = robustness_results(run_dir, list(results))
    evals = read_evals(run_dir)
    latest = evals[-1] if evals else None
    with_fragility = [e for e in evals if e.get("fragility")]
    latest_frag = with_fragility[-1] if with_fragility else None

    provenance = (
        _detector_section(run_dir, det, str(detector), n, seed, checkpoint)
        if det is not None
        else _missing(f"ganstudio robustness report {run_dir} --detector DIR")
    )
    sections = [
        ("provenance", "Was it made by a GAN? (provenance detector)", provenance),
        ("originality", "Is it a copy of a training picture? (originality)", _originality_section(run_dir, latest)),
        ("fragility", "How fragile is the quality score? (metric fragility)", _fragility_section(latest_frag, found)),
        ("attacks", "How easily are the judges fooled? (attacks and defences)", _attacks_section(found)),
    ]
    parts = [
        f"<h1>Robustness and originality: {_esc(run_dir.name)}</h1>",
        "<p>What has been measured about this run: whether its pictures can be told from real ones, whether "
        "they copy training pictures, and how far the numbers that judge them can be trusted. Each section says "
        "how to measure what is missing. Pixels are in [0, 1]: eps 1/255 is one grey level of an 8-bit file.</p>",
    ]
    for key, title, body in sections:
        parts.append(
            f"<section id='{key}'><h2>{_esc(title)}</h2><p class='explain'>{_esc(EXPLAIN[key])}</p>{body}</section>"
        )
    sources = [str(p) for _, p, _ in found]
    if sources:
        parts.append(
            "<p class='sources'>Results read: " + ", ".join(f"<code>{_esc(s)}</code>" for s in sources) + "</p>"
        )
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222;line-height:1.4}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child{text-align:left}.explain{background:#f4f4f0;padding:.6em .8em;border-left:4px solid #888}"
        ".missing{color:#8a4b00}.strip{display:flex;flex-wrap:wrap;gap:8px}.pic{margin:0;text-align:center}"
        "figure{margin:1em 0}img{max-width:100%;image-rendering:pixelated}figcaption{font-size:85%;color:#555}"
        ".sources{font-size:85%;color:#555}"
    )
    doc = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_esc(run_dir.name)}: robustness and "
        f"originality</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    atomic_write_bytes(path, doc.encode())
    return path


__all__ = ["build_report", "build_robustness_report", "result_kind", "robustness_results"]
