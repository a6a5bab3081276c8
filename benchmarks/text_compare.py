"""Paired comparison of two ``text_bench.py`` results on the same prompts: is B's R-precision really above A's?

    python benchmarks/text_compare.py A.json B.json [--set held-out] [--column text] [--column-b text_anchor1]

Two runs scored on the same prompts with the same distractors (``r_precision``'s fixed seed) miss and hit many of
the same prompts, so the standard error of their difference is smaller than either rate's alone. Per prompt the
hits are averaged over its seeds; the difference's standard error is the sample standard deviation of the
per-prompt differences over the square root of the number of prompts. Prints both rates, the difference, its
standard error, and how many prompts only A / only B got right (at every seed).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def per_prompt(result: dict, set_name: str, column: str) -> dict[str, float]:
    """{prompt: its pictures' mean hit} for one set and column of a ``text_bench.py`` JSON."""
    block = result.get("hits", {}).get(set_name)
    if block is None or column not in block:
        have = sorted(result.get("hits", {}).get(set_name, {}).keys() - {"prompts"})
        raise SystemExit(f"no hits for set {set_name!r}, column {column!r} (re-run text_bench.py; columns: {have})")
    prompts, hits = block["prompts"], block[column]
    seeds = len(hits) // len(prompts)
    return {p: sum(hits[i * seeds : (i + 1) * seeds]) / seeds for i, p in enumerate(prompts)}


def paired(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Rates, their difference (B - A) and its standard error over the prompts both scored."""
    common = [p for p in a if p in b]
    if len(common) < 2:
        raise SystemExit("the two results share fewer than 2 prompts: were they scored on the same sets?")
    d = [b[p] - a[p] for p in common]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    return {
        "prompts": n,
        "a": sum(a[p] for p in common) / n,
        "b": sum(b[p] for p in common) / n,
        "difference": mean,
        "se": sd / math.sqrt(n),
        "only_a": sum(a[p] == 1 and b[p] == 0 for p in common),
        "only_b": sum(b[p] == 1 and a[p] == 0 for p in common),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--set", default="held-out", help="the prompt set (train, held-out, paraphrase, ...)")
    ap.add_argument("--column", default="text", help="A's column (text, text_anchor1, nearest, ...)")
    ap.add_argument("--column-b", default=None, help="B's column (default: the same as A's)")
    args = ap.parse_args()
    ra, rb = (json.loads(p.read_text()) for p in (args.a, args.b))
    r = paired(per_prompt(ra, args.set, args.column), per_prompt(rb, args.set, args.column_b or args.column))
    print(
        f"{args.set}: A {100 * r['a']:.1f} %, B {100 * r['b']:.1f} %, B - A {100 * r['difference']:+.1f} "
        f"+- {100 * r['se']:.1f} points (paired SE, {r['prompts']} prompts); right only in A: {r['only_a']}, "
        f"only in B: {r['only_b']}"
    )


if __name__ == "__main__":
    main()
