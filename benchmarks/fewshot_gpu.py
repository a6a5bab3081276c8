"""Issue 14's few-shot must-show on a lent GPU: D's self-supervised term on and off, every run side by side.

300 clip-art pictures at 64 px (the seeded 300 of the CPU studies, written as one sub-folder per topic so the
GPU machine, which has no Debian clip art, trains on the same pictures and labels), preset ``emoji-64`` with
``recon_weight`` 1 (the preset) or 0 (D without its decoders), 5 minutes per run, all runs at once on one GPU
(equal conditions for both arms, paired by seed), then scored on that machine's CPU with the CPU studies' metrics:
n = 1,000 in the emoji classifier's features (carried: ``classifier:PATH``) against one seeded half of the 300.

    # here, on the CPU machine: the pictures and the extractor, in .gpu/ (ignored by git, carried to the device)
    python benchmarks/fewshot_gpu.py prepare
    # on the GPU machine (the device tool: carry [".gpu"]); $OUT receives results.jsonl, log.txt, grids.tar and
    # the EMA generators of the first seeds in float16 (weights-*.tar: 3 runs a file)
    python3 benchmarks/fewshot_gpu.py run --minutes 5 --seeds 0 1 2 3 4 5
    # here: the table (and the runs unpacked for grids and rescoring)
    python benchmarks/fewshot_gpu.py table /path/to/results.jsonl

Not a test: it trains for minutes and needs a GPU (``run --device cpu --minutes 0.1`` checks the pipeline here).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARRY = ROOT / ".gpu"
DATA_LINK = Path("/tmp/clip300")  # the same path here and there, so a run's config names data found on both
ARMS = {"recon": [], "no-recon": ["--set", "model_config.recon_weight=0"]}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ganstudio", *args]


def env(threads: int = 1) -> dict[str, str]:
    e = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONUNBUFFERED="1", OMP_NUM_THREADS=str(threads))
    return e | {"OMP_WAIT_POLICY": "PASSIVE"}


def cmd_prepare(a) -> None:
    """Write the 300 pictures by topic and copy the emoji classifier into .gpu/ (the carried folder)."""
    sys.path.insert(0, str(ROOT / "src"))
    from ganstudio.features.classifier import find_classifier

    found = find_classifier("emoji")
    if found is None:
        sys.exit("no emoji classifier here: run `ganstudio features train --data emoji` first (about 80 s)")
    for own in ("clip300", "classifier-emoji"):  # its own paths only: .gpu/text is text_gpu.py's
        shutil.rmtree(CARRY / own, ignore_errors=True)
    CARRY.mkdir(exist_ok=True)
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/emoji_presets.py"), "folder", str(CARRY / "clip300"),
         "--data", "clipart", "--limit", str(a.images), "--resolution", "64", "--labelled"],
        check=True,
    )  # fmt: skip
    shutil.copytree(found, CARRY / "classifier-emoji")
    print(f"{CARRY}: the pictures and {found.name}; carry it to the GPU machine")


def link_data() -> None:
    if DATA_LINK.is_symlink() or not DATA_LINK.exists():
        DATA_LINK.unlink(missing_ok=True)
        DATA_LINK.symlink_to(CARRY / "clip300")


def train_cmd(arm: str, seed: int, a, out: Path, budget: list[str]) -> list[str]:
    return cli(
        "train", "--data", str(DATA_LINK), "--preset", "emoji-64", "--set", "data.labels=true", *ARMS[arm],
        "--seed", str(seed), "--device", a.device, "--threads", "1", "--sample-every", "1000000",
        "--checkpoint-every", "1000000", "--out", str(out), "--quiet", *budget, *(x for kv in a.set for x in ("--set", kv)),
    )  # fmt: skip


def launch_all(jobs: dict[str, list[str]], logs: Path) -> dict[str, int]:
    """Start every job at once (one GPU, equal conditions), wait for all; their return codes."""
    procs = {}
    for name, cmd in jobs.items():
        with open(logs / f"{name}.log", "w") as log:
            procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env(), cwd=ROOT)
    return {name: p.wait() for name, p in procs.items()}


def run_dir(out: Path) -> Path:
    """The one run ``ganstudio train --out OUT`` made there."""
    from ganstudio import runs

    (found,) = runs.list_runs(out)
    return found


def score(run: Path) -> subprocess.Popen:
    """``ganstudio evaluate --json`` of a run, as the CPU studies score (its JSON on stdout)."""
    return subprocess.Popen(
        cli("evaluate", str(run), "--n", "1000", "--features", f"classifier:{CARRY / 'classifier-emoji'}",
            "--reference", "train", "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env(), cwd=ROOT, text=True,
    )  # fmt: skip


def start_run(work_dir: str, default_out: str) -> tuple[Path, Path, Path, dict]:
    """A GPU run's folders (``$OUT`` or ``default_out`` for what comes back; ``work_dir`` emptied, with logs/) and
    the machine it runs on (printed): (out, work, logs, machine)."""
    sys.path.insert(0, str(ROOT / "src"))
    out = Path(os.environ.get("OUT", default_out))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(work_dir)
    shutil.rmtree(work, ignore_errors=True)
    logs = work / "logs"
    logs.mkdir(parents=True)
    import torch

    machine = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "cpus": os.cpu_count(),
    }
    print(json.dumps(machine), flush=True)
    return out, work, logs, machine


def write_rows(out: Path, rows: list[dict]) -> None:
    """``out/results.jsonl``: one JSON row per scored run."""
    (out / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def write_logs(out: Path, logs: Path, tail: int) -> None:
    """``out/log.txt``: the last ``tail`` characters of every log in ``logs``."""
    (out / "log.txt").write_text("".join(f"--- {p.name}\n{p.read_text()[-tail:]}\n" for p in sorted(logs.iterdir())))


def cmd_run(a) -> None:
    out, work, logs, machine = start_run(a.work, "/tmp/fewshot-gpu-out")
    link_data()
    # a few steps of each arm first: a broken path stops here, in seconds, not after the whole budget
    smoke = {f"smoke-{arm}": train_cmd(arm, 0, a, work / f"smoke-{arm}", ["--steps", "3"]) for arm in ARMS}
    codes = launch_all(smoke, logs) if a.smoke else {}
    if any(codes.values()):
        for name in codes:
            print(f"--- {name} (rc {codes[name]})\n" + (logs / f"{name}.log").read_text()[-3000:])
        sys.exit(1)
    if a.smoke:
        print(f"smoke passed {time.strftime('%H:%M:%S')}", flush=True)
    jobs = {
        f"{arm}-{s}": train_cmd(arm, s, a, work / f"{arm}-{s}", ["--minutes", str(a.minutes)])
        for s in a.seeds
        for arm in ARMS
    }
    t0 = time.monotonic()
    codes = launch_all(jobs, logs)
    print(f"trained in {time.monotonic() - t0:.0f} s: {codes}", flush=True)
    scoring = {name: score(run_dir(work / name)) for name in jobs if codes[name] == 0}
    rows = []
    for name, proc in scoring.items():
        text, _ = proc.communicate()
        run = run_dir(work / name)
        metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        try:
            res = json.loads(text)
        except json.JSONDecodeError:
            res = {"error": text[-2000:]}
        arm, seed = name.rsplit("-", 1)
        # the evaluation's own "seed" (of its samples) is kept as eval_seed: the run's seed is the row's
        res["eval_seed"] = res.pop("seed", None)
        row = {"arm": arm, "seed": int(seed), "sets": a.set, "run": run.name, "last_log": metrics[-1]}
        rows.append({**machine, **res, **row})
        subprocess.run(
            cli("generate", str(run), "--n", "64", "--seed", "1234", "--grid", str(work / f"grid-{name}.png")),
            env=env(), cwd=ROOT, capture_output=True,
        )  # fmt: skip
    write_rows(out, rows)
    write_logs(out, logs, 4000)
    with tarfile.open(out / "grids.tar", "w") as t:
        for p in sorted(work.glob("grid-*.png")):
            t.add(p, arcname=p.name)
    pack_weights(work, [f"{arm}-{s}" for s in a.seeds[: a.weights_seeds] for arm in ARMS], out)
    print(f"done {time.strftime('%H:%M:%S')}: {len(rows)} runs scored", flush=True)


def pack_weights(work: Path, names: list[str], out: Path) -> None:
    """Each run's EMA generator in float16 with what loads it (config, state): 3 runs a tar, under 16 MiB."""
    import torch
    from safetensors.torch import save_file

    from ganstudio import runs

    for k in range(0, len(names), 3):
        with tarfile.open(out / f"weights-{k // 3}.tar", "w") as t:
            for name in names[k : k + 3]:
                run = run_dir(work / name)
                ck = runs.find_checkpoint(run)
                assert ck is not None, run
                step = ck.path.name
                half = work / f"{name}-G_ema.safetensors"
                save_file({key: v.to(torch.float16) for key, v in ck.tensors("G_ema").items()}, half)
                t.add(half, arcname=f"{name}/{run.name}/checkpoints/{step}/G_ema.fp16.safetensors")
                for rel in ("config.json", "metrics.jsonl", f"checkpoints/{step}/state.json", "checkpoints/latest"):
                    t.add(run / rel, arcname=f"{name}/{run.name}/{rel}")


def spread(values: list[float]) -> str:
    sd = f", sd {statistics.stdev(values):.1f}" if len(values) > 1 else ""
    return f"mean {statistics.mean(values):.1f}, range {min(values):.1f}-{max(values):.1f}{sd}"


def cmd_table(a) -> None:
    rows = [json.loads(line) for line in Path(a.results).read_text().splitlines() if line.strip()]
    print("| seed | arm | steps | FID | KID x1e3 | precision | recall | coverage | copies | ADA p at the end |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["seed"], r["arm"] != "recon")):
        g, ada = r["rows"]["generated"], r["last_log"].get("ada_p")  # no ada_p: ADA was off
        print(
            f"| {r['seed']} | {r['arm']} | {r['step']:,} | {g['fid']:.1f} | {g['kid']:.1f} | {g['precision']:.3f} | "
            f"{g['recall']:.3f} | {g['coverage']:.3f} | {100 * g['copy_fraction']:.1f} % | "
            f"{'-' if ada is None else f'{ada:.3f}'} |"
        )
    by = {(r["arm"], r["seed"]): r["rows"]["generated"]["fid"] for r in rows}
    seeds = sorted({s for _, s in by})
    for arm in ARMS:
        print(f"{arm} FID: {spread([by[arm, s] for s in seeds if (arm, s) in by])}")
    gains = [by["no-recon", s] - by["recon", s] for s in seeds if ("recon", s) in by and ("no-recon", s) in by]
    print("paired gains of the term (no-recon minus recon):", ", ".join(f"{g:+.1f}" for g in gains))
    if len(gains) > 1:
        se = statistics.stdev(gains) / len(gains) ** 0.5
        print(f"mean gain {statistics.mean(gains):+.1f}, standard error {se:.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("prepare")
    pr.add_argument("--images", type=int, default=300)
    r = sub.add_parser("run")
    r.add_argument("--minutes", type=float, default=5)
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    r.add_argument("--device", default="cuda")
    r.add_argument("--work", default="/tmp/fewshot-gpu")
    r.add_argument("--weights-seeds", type=int, default=3, help="seeds whose EMA generators come back")
    r.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="for both arms, e.g. train.ada=false"
    )
    r.add_argument("--no-smoke", dest="smoke", action="store_false", help="skip the few steps of each arm first")
    t = sub.add_parser("table")
    t.add_argument("results")
    a = p.parse_args()
    {"prepare": cmd_prepare, "run": cmd_run, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
