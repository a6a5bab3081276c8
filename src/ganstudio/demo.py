"""``make demo``: the first run a new user sees. Picks the best data here, trains briefly, shows where things are."""
from __future__ import annotations

from pathlib import Path

from .data import resolve_auto
from .training import train
from .training.options import build_run_config


def run_demo(minutes: float = 2.0, out: str | Path = "runs", model: str | None = None) -> Path:
    data, note = resolve_auto()
    if note:
        print(f"note: {note}")
    cfg = build_run_config(data=data, model=model or "mlp", preset="seed",
                           train={"minutes": minutes, "sample_every": 500})  # a time budget: no step total, no false ETA
    print(f"demo: training the seed's MLP GAN on {data} for {minutes:g} minutes "
          f"(Ctrl-C stops early and keeps a checkpoint)")
    run = train(cfg, out=out)
    grid = run / "samples" / "latest.png"
    print(f"""
done. Everything is in {run}/
  sample grid (fixed noise, updated each epoch): {grid}
  all grids over time:   {run}/samples/
  training log:          {run}/metrics.jsonl
  checkpoints:           {run}/checkpoints/
next:
  .venv/bin/ganstudio generate {run} --n 64 --seed 7 --grid my-grid.png
  .venv/bin/ganstudio train --resume {run} --minutes 5          # keep training
  .venv/bin/ganstudio train --data {data} --epochs 5            # a longer run of your own
  .venv/bin/ganstudio datasets                                  # what data is available here""")
    return run
