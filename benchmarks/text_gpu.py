"""Issue 15's held-out target on a lent GPU: the text preset at batch sizes a 2-core CPU cannot afford, side by side.

Text-to-image GANs that read sentences well (XMC-GAN, StyleGAN-T) train their contrastive image-text terms on
batches of hundreds; the CPU studies (benchmarks/text_README.md) all ran `emoji-text` at batch 16, where each
picture meets 15 wrong captions in the InfoNCE terms. This trains the arms below at once on one GPU for the same
minutes, then scores each with ``text_bench.py`` (the judge, the prompts and the held-out emoji of the CPU
studies) on that machine's CPU, at the latest checkpoint and at the matched ones (``--score-steps``).

    # here, on the CPU machine: the emoji list, and a cache holding the judge, the emoji classifier, the
    # rendered emoji, the preset's fitted guide (train.text_guidance) and every sentence embedding the runs and
    # the benchmark ask for (the GPU machine has no sentence model: a text it has not got cached stops the run
    # there), in .gpu/text (ignored by git)
    python benchmarks/text_gpu.py prepare
    # on the GPU machine (the device tool: carry [".gpu"]); $OUT gets results.jsonl, log.txt and text-gpu.tar
    # (every text_bench JSON and each arm's prompt grid)
    python3 benchmarks/text_gpu.py run --minutes 4
    # here: the table
    python benchmarks/text_gpu.py table /path/to/results.jsonl

Not a test: it trains for minutes and needs a GPU (``run --device cpu --minutes 0.2 --arms b16`` checks the
pipeline here).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from fewshot_gpu import ROOT, cli, env, launch_all, run_dir, start_run, write_logs, write_rows

CARRY = ROOT / ".gpu" / "text"
CACHE = CARRY / "cache"
# name -> --set options on top of the emoji-text preset (batch 16, G drawing over its nearest training pictures)
ARMS: dict[str, list[str]] = {
    "b16": [],
    "b64": ["train.batch_size=64"],
    "b256": ["train.batch_size=256"],
    "b64-direct": ["train.batch_size=64", "model_config.retrieve=false"],
    "b256-direct": ["train.batch_size=256", "model_config.retrieve=false"],
    "b64-wide": ["train.batch_size=64", "model_config.g_channels=64", "model_config.d_channels=64"],
}


def carried_env(work: Path) -> None:
    """Point the library at the carried list and cache, and at a stand-in for the font written in ``work``: an empty
    file of the real one's size and mtime, which is all the emoji cache's key reads (the font stays behind: 11 MB
    over the carry limit), so every emoji comes from the cache and none is rendered."""
    stat = json.loads((CARRY / "font_stat.json").read_text())
    font = work / "NotoColorEmoji.ttf"
    with open(font, "wb") as f:
        f.truncate(stat["size"])
    os.utime(font, (stat["mtime"], stat["mtime"]))
    os.environ["GANSTUDIO_CACHE"] = str(CACHE)
    os.environ["GANSTUDIO_EMOJI_FONT"] = str(font)
    os.environ["GANSTUDIO_EMOJI_LIST"] = str(CARRY / "emoji-test.txt")


def train_cmd(arm: str, a, out: Path, budget: list[str]) -> list[str]:
    sets = [x for kv in ARMS[arm] + a.set for x in ("--set", kv)]
    return cli(
        "train", "--data", "emoji", "--preset", "emoji-text", *sets, "--seed", str(a.seed), "--device", a.device,
        "--threads", "1", "--sample-every", "1000000", "--checkpoint-every", str(a.checkpoint_every),
        "--set", "train.keep_checkpoints=100", "--out", str(out), "--quiet", *budget,
    )  # fmt: skip


def bench_cmd(run: Path, step: str, out: Path, grid: Path | None) -> list[str]:
    return [
        sys.executable, str(ROOT / "benchmarks/text_bench.py"), "--run", str(run), "--checkpoint", step,
        "--threads", "2", "--out", str(out), *(["--grid", str(grid)] if grid else []),
    ]  # fmt: skip


def cmd_prepare(a) -> None:
    """Fill .gpu/text: the list, the font's size and mtime, the judge, the classifier, and the caches that one step of each arm and one benchmark run write here."""
    sys.path.insert(0, str(ROOT / "src"))
    from ganstudio.cache import cache_root
    from ganstudio.data import emoji as E

    font, listing = E.font_path(), E.list_path()
    if font is None or listing is None:
        sys.exit("the emoji font or list is missing here: make data")
    features = cache_root() / "features"
    judge = sorted(features.glob("text-match-emoji-*"))
    classifier = sorted(features.glob("classifier-emoji-*"))
    if not judge or not classifier:
        sys.exit("train the judge and the classifier first: python benchmarks/text_bench.py --judge-only; "
                 "ganstudio features train --data emoji")  # fmt: skip
    shutil.rmtree(CARRY, ignore_errors=True)
    (CACHE / "features").mkdir(parents=True)
    shutil.copy2(listing, CARRY / "emoji-test.txt")
    (CARRY / "font_stat.json").write_text(json.dumps({"size": font.stat().st_size, "mtime": font.stat().st_mtime}))
    for found in (judge[-1], classifier[-1]):
        shutil.copytree(found, CACHE / "features" / found.name)
    os.environ["GANSTUDIO_CACHE"] = str(CACHE)
    os.environ["GANSTUDIO_EMOJI_LIST"] = str(CARRY / "emoji-test.txt")
    work = Path("/tmp/text-gpu-prepare")
    shutil.rmtree(work, ignore_errors=True)
    for arm in ARMS:  # the captions each arm embeds (the same list for all, but cheap to be sure)
        subprocess.run(train_cmd(arm, a, work / arm, ["--steps", "1"]), env=env(2), cwd=ROOT, check=True)
    # the benchmark embeds its prompts in batches that depend on what it has embedded before, and a retrieving run asks
    # for more (its references' captions) than one drawing directly: one benchmark of each kind fills the cache
    kinds = {"model_config.retrieve=false" in ARMS[arm]: arm for arm in reversed(list(ARMS))}
    for arm in kinds.values():
        run = run_dir(work / arm)
        bench = bench_cmd(run, "latest", work / f"bench-{arm}.json", work / f"grid-{arm}.png")
        subprocess.run(bench, env=env(2), cwd=ROOT, check=True)
    size = sum(p.stat().st_size for p in CARRY.rglob("*") if p.is_file())
    print(f"{CARRY}: {size / 2**20:.1f} MiB; carry .gpu to the GPU machine")


def scored_steps(run: Path, wanted: list[int]) -> list[str]:
    """The run's checkpoints among ``wanted`` steps, and its latest."""
    from ganstudio import runs

    have = {int(p.name) for p in (run / "checkpoints").iterdir() if p.name.isdigit()}
    latest = runs.find_checkpoint(run)
    assert latest is not None, run
    return sorted({str(s) for s in wanted if s in have} | {str(int(latest.path.name))}, key=int)


def cmd_run(a) -> None:
    out, work, logs, machine = start_run(a.work, "/tmp/text-gpu-out")
    carried_env(work)
    arms = a.arms or list(ARMS)
    started = time.monotonic()
    if a.smoke:  # a few steps of every arm first: a broken path stops here, in seconds
        codes = launch_all(
            {f"smoke-{arm}": train_cmd(arm, a, work / f"smoke-{arm}", ["--steps", "2"]) for arm in arms}, logs
        )
        if any(codes.values()):
            for name in codes:
                print(f"--- {name} (rc {codes[name]})\n" + (logs / f"{name}.log").read_text()[-3000:])
            sys.exit(1)
        print(f"smoke passed {time.strftime('%H:%M:%S')}", flush=True)
    t0 = time.monotonic()
    codes = launch_all({arm: train_cmd(arm, a, work / arm, ["--minutes", str(a.minutes)]) for arm in arms}, logs)
    print(f"trained in {time.monotonic() - t0:.0f} s: {codes}", flush=True)
    jobs = {}
    for arm in (x for x in arms if codes[x] == 0):
        run = run_dir(work / arm)
        steps = scored_steps(run, a.score_steps)
        for step in steps:
            grid = work / f"grid-{arm}-{step}.png" if step == steps[-1] else None
            jobs[f"{arm}@{step}"] = (arm, run, step, bench_cmd(run, step, work / f"bench-{arm}-{step}.json", grid))
    rows = []
    # every arm's latest checkpoint first, then the matched steps: what a cut-short call must not lose
    names = sorted(jobs, key=lambda n: (jobs[n][2] != scored_steps(jobs[n][1], [])[-1], n))
    for k in range(0, len(names), a.parallel):  # text_bench at 2 threads each: a.parallel of them fill the CPUs
        if time.monotonic() - started > a.stop_after:
            print(f"stopped scoring at {a.stop_after:.0f} s: {len(names) - k} left unscored", flush=True)
            break
        batch = names[k : k + a.parallel]
        codes = launch_all({f"bench-{n}": jobs[n][3] for n in batch}, logs)
        for n in batch:
            arm, run, step, _ = jobs[n]
            res_path = work / f"bench-{arm}-{step}.json"
            if codes[f"bench-{n}"] != 0 or not res_path.exists():
                rows.append({"arm": arm, "step": int(step), "error": (logs / f"bench-{n}.log").read_text()[-2000:]})
                continue
            res = json.loads(res_path.read_text())
            res.pop("hits", None)
            metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
            at = [m for m in metrics if m.get("step", -1) <= int(step)]
            rows.append({**machine, "arm": arm, "sets_on_preset": ARMS[arm] + a.set, "seconds_trained": a.minutes * 60,
                         "last_log": at[-1] if at else None, **res})  # fmt: skip
        print(f"scored {min(k + a.parallel, len(names))}/{len(names)} {time.strftime('%H:%M:%S')}", flush=True)
        write_rows(out, rows)  # after every batch: a call stopped at its limit keeps these
    write_logs(out, logs, 3000)
    with tarfile.open(out / "text-gpu.tar", "w") as t:
        for p in sorted([*work.glob("bench-*.json"), *work.glob("grid-*.png"), *work.glob("grid-*.txt")]):
            t.add(p, arcname=p.name)
    print(f"done {time.strftime('%H:%M:%S')}: {len(rows)} scored", flush=True)


SETS = ("train", "held-out", "paraphrase", "paraphrase-names")


def cmd_table(a) -> None:
    rows = [json.loads(line) for line in Path(a.results).read_text().splitlines() if line.strip()]
    print("| arm | step | images seen | training names | **held-out names** | paraphrases | the same 40 by name "
          "| group acc. held-out | variety | ADA p |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (list(ARMS).index(r["arm"]) if r["arm"] in ARMS else 99, r["step"])):
        if "error" in r:
            print(f"| {r['arm']} | {r['step']} | error: {r['error'].splitlines()[-1][:80]} |")
            continue
        batch = next((int(s.split("=")[1]) for s in r["sets_on_preset"] if s.startswith("train.batch_size=")), 16)
        s = r["sets"]
        rates = " | ".join(f"{100 * s[k]['text']:.1f} %" for k in SETS)
        ada = (r.get("last_log") or {}).get("ada_p")
        print(f"| {r['arm']} | {r['step']:,} | {r['step'] * batch:,} | {rates} | "
              f"{100 * s['held-out']['text_group_acc']:.1f} % | {s['held-out']['text_variety']:.3f} | "
              f"{'-' if ada is None else f'{ada:.2f}'} |")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("prepare", "run"):
        s = sub.add_parser(name)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--device", default="cuda" if name == "run" else "cpu")
        s.add_argument("--checkpoint-every", type=int, default=1800)
        s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="on top of every arm")
    r = sub.choices["run"]
    r.add_argument("--minutes", type=float, default=4)
    r.add_argument("--arms", nargs="+", choices=list(ARMS), default=None)
    r.add_argument("--score-steps", type=int, nargs="*", default=[1800, 3600], help="also score these checkpoints")
    r.add_argument("--parallel", type=int, default=8, help="text_bench processes at once (2 threads each)")
    r.add_argument("--stop-after", type=float, default=1e9, help="start no scoring batch after this many seconds")
    r.add_argument("--work", default="/tmp/text-gpu")
    r.add_argument("--no-smoke", dest="smoke", action="store_false")
    sub.add_parser("table").add_argument("results", help="the results.jsonl a GPU run sent back")
    for name, command in (("prepare", cmd_prepare), ("run", cmd_run), ("table", cmd_table)):
        sub.choices[name].set_defaults(command=command)
    a = p.parse_args()
    a.command(a)


if __name__ == "__main__":
    main()
