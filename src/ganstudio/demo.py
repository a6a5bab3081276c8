"""``make demo``: the first run a new user sees. Picks the best data here, trains briefly, shows where things are."""

from __future__ import annotations

from pathlib import Path

from .data import resolve_auto
from .training import train
from .training.options import build_run_config

# What each preset the demo may use is, in a few words, for the first line the user reads.
DESCRIPTIONS = {
    "fashion-mnist": "the class-conditional DCGAN (--preset fashion-mnist; one row per class)",
    "seed": "the seed article's MLP GAN (--preset seed)",
}


def run_demo(minutes: float = 2.0, out: str | Path = "runs", preset: str = "fashion-mnist") -> Path:
    """Train ``preset`` (default: the best quality per minute measured here) on the best data found.

    ``preset="seed"`` is the seed article's own MLP GAN: one flag away, as the baseline.
    """
    data, note = resolve_auto()
    if note:
        print(f"note: {note}")
    # a time budget: no step total, no false ETA
    cfg = build_run_config(data=data, preset=preset, train={"minutes": minutes, "sample_every": 250})
    print(
        f"demo: training {DESCRIPTIONS.get(preset, f'--preset {preset}')} on {data} for {minutes:g} minutes "
        f"(Ctrl-C stops early and keeps a checkpoint)"
    )
    run = train(cfg, out=out)
    grid = run / "samples" / "latest.png"
    class_hint = ""
    if cfg.conditional:
        class_hint = f"\n  .venv/bin/ganstudio generate {run} --n 16 --class 0 --grid class0.png   # one class"
    print(f"""
done. Everything is in {run}/
  sample grid (fixed noise, updated each epoch): {grid}
  all grids over time:   {run}/samples/
  training log:          {run}/metrics.jsonl
  checkpoints:           {run}/checkpoints/
next:
  .venv/bin/ganstudio generate {run} --n 64 --seed 7 --grid my-grid.png{class_hint}
  .venv/bin/ganstudio train --resume {run} --minutes 5          # keep training
  .venv/bin/ganstudio train --data {data} --epochs 5            # a longer run of your own
  .venv/bin/ganstudio datasets                                  # what data is available here""")
    return run
