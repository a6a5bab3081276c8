"""The creative tools on a sound run: a walk morphs the timbre at one pitch and is written as a WAV of its notes
(+ spectrogram strip + latents), breeding writes children as WAVs, directions preview as sound; every note's
latent remakes its samples exactly."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import ganstudio
from ganstudio import latents as L
from ganstudio.cli import main
from ganstudio.creative import animate as A
from ganstudio.creative import sound as S
from ganstudio.generate import file_stem, generate_to_files
from ganstudio.media_audio import read_audio, write_wav
from ganstudio.pipeline import render_note

SR = 16000


@pytest.fixture(scope="module")
def sound_run(tiny_sound_run):
    """Two pitch classes (A3, A4), 0.25 s notes, two steps: enough to exercise every path."""
    return tiny_sound_run()


def wav(path) -> np.ndarray:
    import soundfile

    data, sr = soundfile.read(str(path), dtype="int16")
    assert sr == SR
    return data


def test_cli_walk_writes_the_morph_as_notes_at_one_pitch_and_each_note_remakes(sound_run, tmp_path, capsys):
    pipe = ganstudio.load(sound_run)
    n = pipe.codec.length
    seed1, seed2 = L.from_seeds(pipe, 2, 1)  # two notes of `generate --n 2 --seed 1`: A3 and A4
    assert (seed1.classes, seed2.classes) == ((1.0, 0.0), (0.0, 1.0))
    fa, fb = L.save_latent(seed1, tmp_path / "a.json"), L.save_latent(seed2, tmp_path / "b.json")
    out = tmp_path / "morph.wav"
    assert main(["animate", str(sound_run), "--from", f"{fa},{fb}", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out), str(out.with_suffix(".png")), str(out.with_suffix(".npz"))]
    lats = L.load_latents(out.with_suffix(".npz"))
    assert len(lats) == 9  # 8 notes a step, and the last keyframe
    samples = wav(out)
    assert len(samples) == 9 * n and n == SR // 4  # one note right after another, at the run's rate
    # one pitch throughout: the first keyframe's (A3); the second keyframe was moved to it
    a3 = (1.0, 0.0)
    assert {l.classes for l in lats} == {a3}
    assert lats[-1].z == seed2.z and lats[0].z == seed1.z
    moved = seed2.with_(classes=a3, parents=(seed2.id,), origin={"op": "pitch", "pitch": "A3"})
    assert lats[4].parents == (seed1.id, moved.id)
    # every note is the sound its latent remakes, sample for sample
    generate_to_files(sound_run, from_latent=str(out.with_suffix(".npz")), out_dir=tmp_path / "notes")
    for i, lat in enumerate(lats):
        assert np.array_equal(samples[i * n : (i + 1) * n], wav(tmp_path / "notes" / f"{file_stem(lat)}.wav"))
    # the notes differ along the walk (the timbre moves), and the ends are the keyframes' own notes
    assert not np.array_equal(samples[:n], samples[-n:])
    python = write_wav(tmp_path / "python.wav", render_note(pipe, 57, seed1), SR)  # Python: the same note
    assert np.array_equal(samples[:n], wav(python))
    # the strip: the 9 spectrograms side by side
    with Image.open(out.with_suffix(".png")) as im:
        h, w = pipe.codec.shape[1:]
        scale = max(1, 96 // h)
        assert im.mode == "RGB" and im.size[1] == (h + 4) * scale and im.size[0] >= 9 * w * scale


def test_walk_options_pitch_rate_circle_and_refusals(sound_run, tmp_path, capsys):
    pipe = ganstudio.load(sound_run)
    n = pipe.codec.length
    paths = A.animate_run(sound_run, tmp_path / "a4.wav", seeds=[1, 2, 3], classes="A4", frames=5, fps=8)
    lats = L.load_latents(paths[2])
    assert len(lats) == 5 and {l.classes for l in lats} == {(0.0, 1.0)}
    samples = read_audio(paths[0], SR)
    assert len(samples) == 4 * (SR // 8) + n  # 8 notes a second: they overlap
    assert np.abs(samples).max() <= 0.9 + 1 / 32767
    circle = A.animate_run(sound_run, tmp_path / "loop.wav", mode="circle", seed=4)
    assert len(L.load_latents(circle[2])) == 16 and len(read_audio(circle[0], SR)) == 16 * n
    default = A.animate_run(sound_run, seeds=[1, 2])  # into the run folder, as a WAV
    assert default[0] == sound_run / "animations" / "walk-1-2.wav" and default[0].is_file()
    for args, message in (
        (["--seeds", "1,2", "--out", str(tmp_path / "m.mp4")], "give --out NAME.wav"),
        (["--seeds", "1,2", "--out", str(tmp_path / "m.wav"), "--class", "C9"], "unknown class 'C9'"),
        (["--prompts", "a flute", "a horn", "--out", str(tmp_path / "m.wav")], "does not read text"),
        (["--audio", str(paths[0]), "--out", str(tmp_path / "m.wav")], "drop --audio"),
    ):
        assert main(["animate", str(sound_run), *args, "--quiet"]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "m.mp4").exists() and not (tmp_path / "m.wav").exists()


def test_breeding_sound_writes_children_as_wavs_at_one_pitch(sound_run, tmp_path, capsys):
    pipe = ganstudio.load(sound_run)
    n = pipe.codec.length
    a, b = L.from_seeds(pipe, 2, 1)  # A3 and A4
    fa, fb = L.save_latent(a, tmp_path / "a.json"), L.save_latent(b, tmp_path / "b.json")
    out = tmp_path / "kids"
    assert main(["breed", str(sound_run), "--parents", f"{fa},{fb}", "--children", "3", "--out-dir", str(out)]) == 0
    kids = sorted(out.glob("child*.wav"))
    assert len(kids) == 3 and len(sorted(out.glob("child*.png"))) == 3
    for k in kids:
        lat = L.load_latents(k.with_suffix(".json"))[0]
        assert lat.classes == a.classes and len(wav(k)) == n  # the first parent's pitch, a whole note
        remade = generate_to_files(sound_run, from_latent=str(k.with_suffix(".json")), out_dir=tmp_path / k.stem)
        assert np.array_equal(wav(next(p for p in remade if p.suffix == ".wav")), wav(k))
    grid = L.load_latents(out / "grid.npz")
    assert len(grid) == 5 and grid[0] == a and grid[1].parents == (b.id,) and grid[1].classes == a.classes
    assert len(wav(out / "grid.wav")) == 5 * n + 4 * SR // 5  # parents, then children, 0.2 s between notes
    with Image.open(out / "grid.png") as im:
        assert im.mode == "RGB"
    # --class: everyone plays A4
    assert main(["breed", str(sound_run), "--parents", f"{fa},{fb}", "--children", "2", "--class", "A4",
                 "--out-dir", str(tmp_path / "a4")]) == 0  # fmt: skip
    assert {L.load_latents(p)[0].classes for p in (tmp_path / "a4").glob("child*.json")} == {(0.0, 1.0)}


def test_directions_and_edits_on_a_sound_run(sound_run, tmp_path, capsys):
    assert main(["directions", str(sound_run), "--method", "sefa", "--n", "3", "--preview", "--preview-rows", "2"]) == 0
    printed = [p for p in capsys.readouterr().out.split() if p.endswith((".png", ".wav"))]
    assert [p[-4:] for p in printed] == [".png", ".wav"]
    pipe = ganstudio.load(sound_run)
    assert len(read_audio(printed[1], SR)) == 14 * pipe.codec.length + 13 * SR // 5  # 2 directions x 7 amounts
    edited = generate_to_files(sound_run, n=1, seed=1, edits="0:+3", directions="sefa", out_dir=tmp_path / "e")
    plain = generate_to_files(sound_run, n=1, seed=1, out_dir=tmp_path / "p")
    we, wp = (read_audio(next(p for p in x if p.suffix == ".wav"), SR) for x in (edited, plain))
    assert len(we) == len(wp) and not np.array_equal(we, wp)
    # a walk between an edited note and a plain one: the edit fades along the walk
    paths = A.animate_run(sound_run, tmp_path / "edit.wav", latent_files=f"{edited[1]},{plain[1]}", frames=3)
    lats = L.load_latents(paths[2])
    assert [dict(l.edits).get(0, 0.0) for l in lats] == pytest.approx([3.0, 1.5, 0.0])


def test_notes_mix_without_clipping():
    waves = np.full((3, 100), 0.9, np.float32)
    assert len(S.mix_notes(waves, 1000)) == 300 and S.mix_notes(waves, 1000).max() == np.float32(0.9)
    over = S.mix_notes(waves, 1000, rate=20)  # 50 samples apart: two notes at once
    assert len(over) == 200 and over.max() == pytest.approx(0.9)
    assert len(S.mix_notes(waves, 1000, gap=0.01)) == 3 * 110 - 10
