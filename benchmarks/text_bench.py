"""Text to picture, measured: R-precision with an independent matching model, group accuracy, a prompt grid.

    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE python benchmarks/text_bench.py \\
        --run RUN_THAT_READS_TEXT --class-run EMOJI_GROUP_RUN [--grid docs/showcase/text-prompts.png]

The judge (``features.text_match``): a small CNN + the frozen MiniLM embedding, trained contrastively on the
REAL emoji (train and held-out splits, 32 px, names + keyword captions; never a generated picture). For each
prompt, the picture must rank the prompt first among itself + 99 random emoji names (R-precision), scored for:

  real      the real emoji picture of the prompt's target (the ceiling)
  class     today's nearest-class mapping on a class-conditional emoji run (the prompt -> its best Unicode
            group by ``creative.prompt`` with no threshold, then a picture of that group)
  nearest   no generator: the real training picture whose name is nearest the prompt in the sentence model's
            space (the prompt's own picture for a training name). What a G that memorised the training pictures
            and drew each unseen name as its nearest training name would score: a reference, not a target
  text      the run that reads text, drawing from the prompt itself
  reference the picture a retrieving run (``model.retrieve``) draws each prompt over, as it is: the training
            picture of the prompt's nearest caption of another picture (a blend with ``retrieve_temperature``);
            ``*_prefers_prompt``: the share of pictures the judge finds closer to the prompt than to the caption of
            that training picture (G's, the reference's, the real one's): does G draw the words or copy its reference
  text_anchorS  the same run with the prompt anchored at strength S (``--anchors``: ``pipe(prompt=..., anchor=S)``,
            pulled toward the run's nearest training captions, ``textembed.anchor``)

on three prompt sets: ``train`` (200 names of training emoji), ``held-out`` (every held-out emoji name: the
generator never saw these pictures or names) and ``paraphrase`` (PARAPHRASES below, about training emoji, in
words their names and subgroups never use; their own names are scored beside them as ``paraphrase-names``).
Some paraphrases' words all occur in some training caption ("a winking face", "a green tree"):
``paraphrase-new-words`` keeps the paraphrases with at least one word of their own (not in
the target's name) that no training caption uses ("kitty", "crimson"), ``paraphrase-new-words-names`` their names.
For paraphrases, ``text_from_name`` scores G's pictures of the target's NAME against the paraphrase: the drop
from names to paraphrases splits into the judge's part (the same pictures, the paraphrase instead of the name:
``paraphrase_drop_judge_points``; for the real pictures it is the 100 -> 90 % of the ``real`` column) and G's
reading of the new wording (``paraphrase_drop_reading_points``).
Group accuracy: the ``emoji`` classifier (features registry) names the Unicode group of each picture; a hit
when it is the target emoji's group. Each prompt is drawn with ``--seeds`` seeds (the rates average them);
``text_variety`` is the mean pixel difference between one prompt's pictures (0: the noise changes nothing),
``real_variety`` that between the real pictures of neighbouring prompts, for scale.
Writes a JSON of every number to ``--out``, with each picture's hit or miss per column under ``hits`` (in prompt
order, seeds inner), which ``text_compare.py`` pairs between two runs.

``--validate-anchor`` chooses the anchor's settings without looking at the held-out names: each of the 200
training names is drawn with its own picture's captions left out of the bank (leave-one-out: the name becomes
as unseen as a held-out one), over a grid of strengths, neighbour counts K and temperatures T, and R-precision
is reported per setting (``anchor_validation`` in the JSON). It flatters weak anchors: G did train on the
left-out name, so the prompt itself is already known to it. ``--anchor-cv`` is the fair choice: 2-fold
cross-validation over the held-out names (chosen on one half, scored on the other, both ways; strength 0 is a
choice too), reported as ``anchor_cross_validation.out_of_fold``.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganstudio import media, textembed
from ganstudio.creative import prompt as P
from ganstudio.data import DataConfig, ImageDataset, load_dataset
from ganstudio.data import emoji as E
from ganstudio.data.captions import all_captions
from ganstudio.features import get_extractor
from ganstudio.features.text_match import MatchConfig, r_precision, train_matcher
from ganstudio.pipeline import load

# (paraphrase, the emoji name it describes): words the emoji names and keyword captions do not use
PARAPHRASES = [
    ("a crimson apple", "red apple"),
    ("a happy kitty", "grinning cat"),
    ("a yellow banana fruit", "banana"),
    ("a blazing fire", "fire"),
    ("a frozen snowman", "snowman"),
    ("a spaceship launching", "rocket"),
    ("a cute puppy face", "dog face"),
    ("a sad crying face with tears", "loudly crying face"),
    ("a red love heart", "red heart"),
    ("a shining yellow star", "star"),
    ("a slice of pizza", "pizza"),
    ("a cheeseburger", "hamburger"),
    ("a glass of red wine", "wine glass"),
    ("a hot cup of coffee", "hot beverage"),
    ("a bright sun", "sun"),
    ("a rain cloud with rain", "cloud with rain"),
    ("a lightning bolt", "high voltage"),
    ("a green tree", "deciduous tree"),
    ("a pink flower blossom", "cherry blossom"),
    ("a ghost spooky", "ghost"),
    ("a skull and bones", "skull"),
    ("a pile of poop", "pile of poo"),
    ("a car automobile", "automobile"),
    ("an aeroplane", "airplane"),
    ("a house home", "house"),
    ("a soccer ball football", "soccer ball"),
    ("a birthday cake", "birthday cake"),
    ("a winking face", "winking face"),
    ("a laughing face with tears of joy", "face with tears of joy"),
    ("a monkey covering its eyes", "see-no-evil monkey"),
    ("an angry red face", "enraged face"),
    ("a thumbs up hand", "thumbs up"),
    ("a juicy strawberry", "strawberry"),
    ("a orange carrot vegetable", "carrot"),
    ("a red chili pepper", "hot pepper"),
    ("a snake serpent", "snake"),
    ("a fish swimming", "fish"),
    ("a turtle tortoise", "turtle"),
    ("a unicorn horse", "unicorn"),
    ("a clown", "clown face"),
]


def emoji_sets(size: int) -> tuple[ImageDataset, ImageDataset, dict[str, str]]:
    train = load_dataset(DataConfig(name="emoji", split="train", resolution=size), size)
    test = load_dataset(DataConfig(name="emoji", split="test", resolution=size), size)
    listing = E.list_path()
    assert listing is not None
    parsed = E.parse(listing.read_text(encoding="utf-8"))
    return train, test, {e.name: e.group for e in parsed}


def train_judge(train: ImageDataset, test: ImageDataset, cfg: MatchConfig | None = None):
    """The judge: the matching model trained on every REAL emoji, both splits (cached after the first time);
    ``cfg`` another architecture or seed for a second opinion (``--judge-widths``, ``--judge-seed``)."""
    both = ImageDataset("emoji", torch.cat([train.images, test.images]), None, captions=train.captions + test.captions)
    return train_matcher(both, cfg or MatchConfig(), log=print)


STOP = {"a", "an", "the", "of", "and", "with", "its"}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower())) - STOP


def new_word_paraphrases(train: ImageDataset, para: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (paraphrase, name) pairs with a word of their own (not in the name) that no training caption uses
    (``all_captions``: what a text run trains on)."""
    used = set().union(*(words(c) for c in all_captions(train)))
    return [(p, n) for p, n in para if (words(p) - words(n)) - used]


def picture_of(ds: ImageDataset, name: str) -> torch.Tensor:
    return ds.images[ds.captions.index(name)]


def generate_text(pipe, prompts: list[str], seeds: int, anchor: float = 0.0) -> torch.Tensor:
    """(len(prompts) * seeds, C, H, W) float in [0, 1]: prompt-major, seed-minor."""
    return torch.cat([pipe(n=seeds, seed=0, prompt=p, anchor=anchor).images for p in prompts])


def dump(results: dict) -> str:
    """The results as indented JSON, with each ``hits`` list on one line (thousands of 0/1 entries)."""
    hits = results.get("hits")
    if hits is None:
        return json.dumps(results, indent=2)
    rest = json.dumps({k: v for k, v in results.items() if k != "hits"}, indent=2)
    lines = ",\n".join(
        f'    "{name}": {{' + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in cols.items()) + "}"
        for name, cols in hits.items()
    )
    return rest[:-2] + ',\n  "hits": {\n' + lines + "\n  }\n}\n"


@torch.no_grad()
def prefers(matcher, images: torch.Tensor, prompts: list[str], others: list[str]) -> float:
    """Share of pictures the judge finds closer to their prompt than to the other caption beside it (ties and an
    other caption equal to the prompt count as not preferring it)."""
    img = matcher.image_embeddings(images)
    texts = sorted(set(prompts) | set(others))
    at = {t: i for i, t in enumerate(texts)}
    txt = matcher.text_embeddings(texts)
    wins = [bool(txt[at[p]] @ img[i] > txt[at[o]] @ img[i]) and p != o for i, (p, o) in enumerate(zip(prompts, others))]
    return float(np.mean(wins))


@torch.no_grad()
def reference_pictures(pipe, prompts: list[str]) -> torch.Tensor:
    """(len(prompts), C, H, W) float in [0, 1]: the (blended) training pictures a retrieving run's G draws each
    prompt over (``model.retrieve``), before G's drawing."""
    y = torch.stack([pipe.embed_prompt(p) for p in prompts])
    return (pipe.G.references(y) + 1) / 2


def generate_class(pipe, prompts: list[str], seeds: int) -> tuple[torch.Tensor, list[str]]:
    """Today's mapping: each prompt -> the best class (no threshold) -> ``seeds`` pictures of it."""
    out, chosen = [], []
    for p in prompts:
        s = P.class_scores(p, pipe.class_names, P.default_embedder)
        w = torch.from_numpy(P.class_weights(s)).float()
        chosen.append(pipe.class_names[int(s.argmax())])
        out.append(pipe(n=seeds, seed=0, classes=w).images)
    return torch.cat(out), chosen


def nearest_training_pictures(train: ImageDataset) -> Callable[[list[str]], torch.Tensor]:
    """prompts -> (len(prompts), C, H, W) uint8: for each prompt, the training picture whose caption is nearest
    it by cosine similarity of the sentence model's embeddings (the training captions embedded once)."""
    e_train = F.normalize(torch.from_numpy(np.asarray(P.default_embedder(list(train.captions)))).float(), dim=1)

    def nearest(prompts: list[str]) -> torch.Tensor:
        e_prompt = F.normalize(torch.from_numpy(np.asarray(P.default_embedder(prompts))).float(), dim=1)
        return train.images[(e_prompt @ e_train.T).argmax(1)]

    return nearest


def anchor_grid(strengths) -> list[tuple[float, int, float]]:
    """(strength, K, T) settings to try: K = 1 ignores T, so it appears once per strength."""
    grid = [(s, k, t) for s in strengths for k in (1, 4, 8) for t in (0.02, 0.05, 0.1)]
    return [(s, k, t) for s, k, t in grid if k > 1 or t == 0.05]


def anchored_prompts(pipe, prompts: list[str], s: float, k: int, t: float, bank_for) -> list[torch.Tensor]:
    """Each prompt's (text_dim,) embedding anchored at strength ``s`` with ``k`` neighbours and temperature ``t`` to
    ``bank_for(prompt)`` ((M, text_dim) unit rows): ``Pipeline.anchored`` at settings other than the library's."""
    return [
        torch.from_numpy(textembed.anchor(pipe.embed_prompt(p).numpy(), bank_for(p), s, k, t).copy()) for p in prompts
    ]


def cross_validate_anchor(pipe, names: list[str], matcher, pool, seeds: int) -> dict:
    """Choose the anchor's (strength, K, T) on one half of the held-out names and score it on the other half, both
    ways (2-fold; halves by position in the sorted names): a choice never scored on the names it was chosen on.
    Strength 0 (no anchor) is among the choices. Returns every setting's per-fold rates and the out-of-fold score."""
    names = sorted(names)
    fold = np.arange(len(names)) % 2
    settings = [(0.0, 1, 0.05)] + anchor_grid((0.25, 0.5, 0.75, 1.0))
    _, bank = pipe.caption_bank()
    z = pipe.latents(seeds, 0)
    rows = []
    for s, k, t in settings:
        ys = anchored_prompts(pipe, names, s, k, t, lambda name: bank)
        x = torch.cat([pipe.generate(z, y.expand(seeds, -1).clone()) for y in ys])  # as pipe(prompt=, anchor=s)
        _, hits = r_precision(matcher, to32(x), [p for p in names for _ in range(seeds)], pool)
        per_name = hits.reshape(len(names), seeds).mean(1)
        rows.append(
            {
                "strength": s,
                "k": k,
                "temperature": t,
                "fold_rates": [float(per_name[fold == f].mean()) for f in (0, 1)],
            }
        )
        print("anchor cross-validation", rows[-1], flush=True)
    out_of_fold, chosen = [], []
    for f in (0, 1):
        best = max(rows, key=lambda r: r["fold_rates"][f])  # chosen on fold f, scored on the other
        chosen.append({k: best[k] for k in ("strength", "k", "temperature")})
        out_of_fold.append(best["fold_rates"][1 - f])
    return {
        "settings": rows,
        "chosen": chosen,
        "out_of_fold_rates": out_of_fold,
        "out_of_fold": float(np.mean(out_of_fold)),
    }


def validate_anchor(pipe, train: ImageDataset, names: list[str], matcher, pool, seeds: int) -> list[dict]:
    """R-precision of training names drawn anchored to a bank without their own picture's captions, per
    (strength, K, T): what the anchor does for a name G never trained on, measured on training names only."""
    texts, bank = pipe.caption_bank()
    row_of = {t: i for i, t in enumerate(texts)}
    caps = all_captions(train)

    def bank_without_own(name: str) -> np.ndarray:
        own = {row_of[c.strip()] for c in caps[train.captions.index(name)].splitlines() if c.strip() in row_of}
        return bank[np.array([i for i in range(len(texts)) if i not in own])]

    out = []
    z = pipe.latents(seeds, 0)
    for s, k, t in anchor_grid((0.5, 0.75, 1.0)):
        ys = anchored_prompts(pipe, names, s, k, t, bank_without_own)
        x = pipe.generate(z.repeat(len(names), 1), torch.cat([y.expand(seeds, -1) for y in ys]))
        r, _ = r_precision(matcher, to32(x), [p for p in names for _ in range(seeds)], pool)
        out.append({"strength": s, "k": k, "temperature": t, "r_precision": r})
        print("anchor validation", out[-1], flush=True)
    return out


def to32(x: torch.Tensor) -> torch.Tensor:
    return F.adaptive_avg_pool2d(x, 32) if x.shape[-1] != 32 else x


def variety(x: torch.Tensor, seeds: int) -> float:
    """Mean absolute pixel difference ([0, 1] scale) between the pictures one prompt drew with different seeds
    (x prompt-major, seed-minor): 0 when the noise changes nothing."""
    if seeds < 2:
        return float("nan")
    x = x.reshape(-1, seeds, *x.shape[1:]).float()
    return float((x[:, :1] - x[:, 1:]).abs().mean())


def group_accuracy(clf, images: torch.Tensor, groups: list[str]) -> float:
    probs = clf.extract(images).probs
    pred = [clf.class_names[int(i)] for i in np.asarray(probs).argmax(1)]
    return float(np.mean([p == g for p, g in zip(pred, groups)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default=None, help="a run that reads text (--preset emoji-text)")
    ap.add_argument("--judge-only", action="store_true", help="only train (and cache) the matching model")
    ap.add_argument("--checkpoint", default="latest", help="the text run's checkpoint (a step, or latest)")
    ap.add_argument("--class-run", default=None, help="a class-conditional emoji run (groups) for today's mapping")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument(
        "--judge-widths",
        default=None,
        help="a second judge: its image tower's widths, e.g. 24,48,96 (a run guided by a matcher, train.text_guidance, "
        "is scored by a judge of another build too, so a gain is not one small CNN's taste)",
    )
    ap.add_argument("--judge-seed", type=int, default=0, help="the judge's seed (with --judge-widths)")
    ap.add_argument("--train-prompts", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="at most this many prompts per set (smoke tests)")
    ap.add_argument("--out", default="benchmarks/results/text.json")
    ap.add_argument("--grid", default=None, help="write a prompt grid (one row per prompt) here")
    ap.add_argument("--anchors", default="", help="also score prompts anchored at these strengths, e.g. 0.5,1")
    ap.add_argument("--validate-anchor", action="store_true", help="choose anchor settings on training names (LOO)")
    ap.add_argument("--anchor-cv", action="store_true", help="choose anchor settings by 2-fold CV on held-out names")
    ap.add_argument("--grid-anchor", type=float, default=0.0, help="the grid's prompts anchored at this strength")
    ap.add_argument(
        "--variety",
        type=float,
        default=None,
        help="a retrieving run sampled with this model.retrieve_variety instead of its own (eval-only: no retraining)",
    )
    ap.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="a retrieving run sampled with this model.retrieve_temperature (0: the nearest picture alone; eval-only)",
    )
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.monotonic()
    train, test, group = emoji_sets(32)
    judge_cfg = MatchConfig()
    if a.judge_widths:
        widths = tuple(int(w) for w in a.judge_widths.split(","))
        judge_cfg = MatchConfig(widths=widths, seed=a.judge_seed)
    matcher = train_judge(train, test, judge_cfg)
    print(f"judge ready ({matcher.meta['seconds']} s to train, final loss {matcher.meta['final_loss']:.3f})")
    if a.judge_only:
        return
    if a.run is None:
        ap.error("--run is required (a run that reads text)")
    pool = list(train.captions + test.captions)  # distractors: emoji names
    rng = np.random.default_rng(0)
    train_names = [train.captions[i] for i in rng.choice(len(train), a.train_prompts, replace=False)]
    held = list(test.captions)
    para = [(p, n) for p, n in PARAPHRASES if n in train.captions]
    fresh = new_word_paraphrases(train, para)
    nearest = nearest_training_pictures(train)
    sets = {
        "train": (train_names, train_names, train),
        "held-out": (held, held, test),
        "paraphrase": ([p for p, _ in para], [n for _, n in para], train),
        "paraphrase-names": ([n for _, n in para], [n for _, n in para], train),
        "paraphrase-new-words": ([p for p, _ in fresh], [n for _, n in fresh], train),
        "paraphrase-new-words-names": ([n for _, n in fresh], [n for _, n in fresh], train),
    }
    text_pipe = load(a.run, a.checkpoint)
    if a.variety is not None:
        if not text_pipe.retrieves:
            ap.error("--variety needs a retrieving run (model.retrieve)")
        text_pipe.G.ref_variety = a.variety
    if a.temperature is not None:
        if not text_pipe.retrieves:
            ap.error("--temperature needs a retrieving run (model.retrieve)")
        text_pipe.G.ref_temperature = a.temperature
    class_pipe = load(a.class_run) if a.class_run else None
    clf = get_extractor("emoji")
    results: dict = {
        "run": str(a.run),
        "step": text_pipe.step,
        "class_run": a.class_run,
        "class_step": None if class_pipe is None else class_pipe.step,
        "judge": {k: v for k, v in matcher.meta.items() if k != "data_hash"},
        "seeds": a.seeds,
        "retrieve_variety": getattr(text_pipe.G, "ref_variety", None),
        "retrieve_temperature": getattr(text_pipe.G, "ref_temperature", None),
        "sets": {},
    }
    anchors = [float(v) for v in a.anchors.split(",") if v.strip()]
    if a.validate_anchor:
        results["anchor_validation"] = validate_anchor(text_pipe, train, train_names[: a.limit], matcher, pool, a.seeds)
    if a.anchor_cv:
        results["anchor_cross_validation"] = cross_validate_anchor(text_pipe, held[: a.limit], matcher, pool, a.seeds)
    for name, (prompts, targets, ds) in sets.items():
        prompts, targets = prompts[: a.limit], targets[: a.limit]
        row: dict = {"prompts": len(prompts)}
        groups = [group[t] for t in targets]
        real = torch.stack([picture_of(ds, t) for t in targets])
        hits: dict[str, list[int]] = {}  # per picture, in prompt order (seeds inner): for paired comparisons
        row["real"], _ = r_precision(matcher, real, prompts, pool)
        row["real_group_acc"] = group_accuracy(clf, real.float() / 255, groups)
        near = nearest(prompts)
        row["nearest"], h = r_precision(matcher, near, prompts, pool)
        hits["nearest"] = h.astype(int).tolist()
        row["nearest_group_acc"] = group_accuracy(clf, near.float() / 255, groups)
        rep = [p for p in prompts for _ in range(a.seeds)]
        g_rep = [g for g in groups for _ in range(a.seeds)]
        x = generate_text(text_pipe, prompts, a.seeds)
        row["text"], h = r_precision(matcher, to32(x), rep, pool)
        hits["text"] = h.astype(int).tolist()
        row["text_group_acc"] = group_accuracy(clf, x, g_rep)
        row["text_variety"] = variety(x, a.seeds)  # same prompt, other seed
        row["real_variety"] = float((real.float()[1:] - real.float()[:-1]).abs().mean() / 255)  # other emoji
        if text_pipe.retrieves:  # the pictures a retrieving G draws over, as they are: what its drawing adds
            ref = reference_pictures(text_pipe, prompts)
            row["reference"], h = r_precision(matcher, to32(ref), prompts, pool)
            hits["reference"] = h.astype(int).tolist()
            row["reference_group_acc"] = group_accuracy(clf, ref, groups)
            # does G draw the prompt, or its reference? the judge's 2-way choice between the prompt and the caption of
            # the reference's (nearest) training picture, for G's pictures, the reference itself and the real picture
            over = [text_pipe.reference_caption(p_) for p_ in prompts]
            row["text_prefers_prompt"] = prefers(matcher, to32(x), rep, [o_ for o_ in over for _ in range(a.seeds)])
            row["reference_prefers_prompt"] = prefers(matcher, to32(ref), prompts, over)
            row["real_prefers_prompt"] = prefers(matcher, real, prompts, over)
        if prompts != targets:  # paraphrases: G's pictures of the NAMES, judged against the paraphrase
            xt = generate_text(text_pipe, targets, a.seeds)
            row["text_from_name"], _ = r_precision(matcher, to32(xt), rep, pool)
        for s_ in anchors:
            xa = generate_text(text_pipe, prompts, a.seeds, s_)
            row[f"text_anchor{s_:g}"], h = r_precision(matcher, to32(xa), rep, pool)
            hits[f"text_anchor{s_:g}"] = h.astype(int).tolist()
            row[f"text_anchor{s_:g}_group_acc"] = group_accuracy(clf, xa, g_rep)
        if class_pipe is not None:
            xc, chosen = generate_class(class_pipe, prompts, a.seeds)
            row["class"], _ = r_precision(matcher, to32(xc), rep, pool)
            row["class_group_acc"] = group_accuracy(clf, xc, g_rep)
            row["class_mapping_right_group"] = float(np.mean([c == g for c, g in zip(chosen, groups)]))
        results["sets"][name] = row
        results.setdefault("hits", {})[name] = {"prompts": prompts, **hits}
        print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    s = results["sets"]
    results["paraphrase_drop_points"] = 100 * (s["paraphrase-names"]["text"] - s["paraphrase"]["text"])
    results["paraphrase_new_words_drop_points"] = 100 * (
        s["paraphrase-new-words-names"]["text"] - s["paraphrase-new-words"]["text"]
    )
    # the drop split in two: the judge's (the same pictures of the names, scored against the paraphrase instead of
    # the name: what even a G that read every paraphrase as its name would lose) and G's reading of new words
    results["paraphrase_drop_judge_points"] = 100 * (s["paraphrase-names"]["text"] - s["paraphrase"]["text_from_name"])
    results["paraphrase_drop_reading_points"] = 100 * (s["paraphrase"]["text_from_name"] - s["paraphrase"]["text"])
    for s_ in anchors:
        results[f"paraphrase_drop_points_anchor{s_:g}"] = 100 * (
            s["paraphrase-names"][f"text_anchor{s_:g}"] - s["paraphrase"][f"text_anchor{s_:g}"]
        )
    results["paraphrases_with_used_words"] = [p for p, n in para if (p, n) not in fresh]
    results["seconds"] = round(time.monotonic() - t0, 1)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(dump(results))
    print("wrote", a.out)
    if a.grid:
        grid_prompts = [
            "red apple",
            "a crimson apple",
            "a happy kitty",
            "rocket",
            "fire",
            "a frozen snowman",
            "red heart",
            "a green tree",
        ]
        held_some = held[:4]
        rows = grid_prompts + held_some
        x = torch.cat([text_pipe(n=8, seed=0, prompt=p, anchor=a.grid_anchor).images for p in rows])
        media.save_grid(x, a.grid, nrow=8, scale=3)
        Path(a.grid).with_suffix(".txt").write_text(
            "\n".join(f"row {i + 1}: {p}" + (" (held-out emoji)" if p in held_some else "") for i, p in enumerate(rows))
            + "\n"
        )
        print("wrote", a.grid)


if __name__ == "__main__":
    main()
