"""MIDI through a generated instrument: parsing (tempo, overlaps, pedal, drums), fitting one-shots to note
lengths, mixing, and ``ganstudio play`` on a tiny sound run."""

from __future__ import annotations

import json

import mido
import numpy as np
import pytest

import ganstudio
from ganstudio import latents as L
from ganstudio.cli import main
from ganstudio.creative import play as P
from ganstudio.errors import UserError
from ganstudio.media_audio import read_audio

TPB = 480  # ticks per beat


def write_midi(path, tracks, type_=1):
    """``tracks``: lists of (absolute tick, message); written with delta times."""
    mid = mido.MidiFile(type=type_, ticks_per_beat=TPB)
    for events in tracks:
        tr = mido.MidiTrack()
        now = 0
        for tick, msg in sorted(events, key=lambda e: e[0]):
            tr.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(tr)
    mid.save(path)
    return path


def on(note, vel=100, ch=0):
    return mido.Message("note_on", note=note, velocity=vel, channel=ch)


def off(note, ch=0):
    return mido.Message("note_off", note=note, channel=ch)


def pedal(value, ch=0):
    return mido.Message("control_change", control=64, value=value, channel=ch)


def tempo(us_per_beat):
    return mido.MetaMessage("set_tempo", tempo=us_per_beat)


@pytest.fixture
def song(tmp_path):
    """120 bpm (a beat = 0.5 s) for two beats, then 60 bpm (a beat = 1 s)."""
    conductor = [(0, tempo(500_000)), (960, tempo(1_000_000))]
    melody = [
        (0, on(60, 100)), (480, off(60)),  # 0.0 s, 0.5 s
        (240, on(64, 80)), (480, on(64, 90)),  # the same key twice, overlapping: first in, first out
        (720, on(64, 0)), (960, off(64)),  # note-on with velocity 0 is a note-off
        (960, on(67, 127)), (1440, off(67)),  # at 60 bpm: 1 s
        (1440, pedal(127)), (1440, on(72, 50)), (1680, off(72)), (1920, pedal(0)),  # let go at 2.5 s, held to 3
        (1920, on(48, 70)), (2400, mido.MetaMessage("end_of_track")),  # never released: to the end, 4 s
    ]  # fmt: skip
    drums = [(0, on(36, 110, ch=9)), (240, off(36, ch=9))]
    return write_midi(tmp_path / "song.mid", [conductor, melody, drums])


def test_read_midi_tempo_overlaps_pedal_and_drums(song):
    notes = P.read_midi(song)
    got = [(round(n.start, 6), round(n.duration, 6), n.pitch, n.velocity) for n in notes]
    assert got == [
        (0.0, 0.5, 60, 100),
        (0.25, 0.5, 64, 80),
        (0.5, 0.5, 64, 90),
        (1.0, 1.0, 67, 127),
        (2.0, 1.0, 72, 50),
        (3.0, 1.0, 48, 70),
    ]
    with_drums = P.read_midi(song, drums=True)
    kick = with_drums[0]
    assert len(with_drums) == 7 and (kick.pitch, kick.channel, kick.duration) == (36, 9, 0.25)


def test_midi_errors_are_one_line(tmp_path):
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    empty = write_midi(tmp_path / "empty.mid", [[(0, tempo(500_000))]])
    drums = write_midi(tmp_path / "drums.mid", [[(0, on(36, ch=9)), (100, off(36, ch=9))]])
    async_ = write_midi(tmp_path / "async.mid", [[(0, on(60)), (100, off(60))]], type_=2)
    for path, msg in [
        (tmp_path / "none.mid", "not found"),
        (junk, "cannot read"),
        (empty, "has no notes to play"),
        (drums, "pass --drums"),
        (async_, "cannot read"),
    ]:
        with pytest.raises(UserError, match=msg) as e:
            P.read_midi(path)
        assert "\n" not in str(e.value)


def test_retime_transposes_and_changes_speed():
    n = [P.Note(1.0, 0.5, 60, 90)]
    assert P.retime(n, 12, 2.0) == [P.Note(0.5, 0.25, 72, 90)]
    with pytest.raises(UserError, match="outside MIDI"):
        P.retime(n, 70)


class Box:
    """A deterministic ``NoteRenderer``: a box of height pitch / 1000 lasting the note, velocity ignored."""

    sample_rate = 1000

    def __call__(self, pitch, velocity, duration):
        return np.full(round(duration * self.sample_rate), pitch / 1000)


def test_mix_puts_each_note_on_its_sample_and_normalises():
    notes = [P.Note(0.0, 0.5, 100, 90), P.Note(0.25, 0.5, 300, 90), P.Note(1.0, 0.002, 50, 90)]
    raw = P.mix(notes, Box(), normalize=False)
    expected = np.zeros(1002)
    expected[:500] += 0.1
    expected[250:750] += 0.3
    expected[1000:1002] += 0.05
    assert raw.dtype == np.float32 and np.allclose(raw, expected, atol=1e-7)
    peak = 10 ** (-1 / 20)
    assert np.allclose(P.mix(notes, Box()), expected * peak / 0.4, atol=1e-6)  # the peak is -1 dBFS
    loud = [P.Note(0.0, 0.1, 900, 90), P.Note(0.0, 0.1, 900, 90)]  # 1.8: over full scale even unnormalised
    assert np.abs(P.mix(loud, Box(), normalize=False)).max() == pytest.approx(peak, rel=1e-6)


class Decaying:
    """A deterministic ``NoteSource``: a 1 s sine at the pitch's frequency, decaying, 8 kHz; counts calls."""

    sample_rate = 8000

    def __init__(self):
        self.calls = []

    def note(self, pitch):
        self.calls.append(pitch)
        t = np.arange(self.sample_rate) / self.sample_rate
        return 0.9 * np.exp(-t / 0.4) * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t + 0.3)


def test_sustained_cuts_short_notes_with_attack_and_release():
    src = Decaying()
    sus = P.Sustained(src, P.Envelope(attack=0.005, release=0.1))
    sr, raw = 8000, src.note(69)
    w = sus(69, 127, 0.2)
    assert len(w) == round(0.3 * sr)  # held + release
    assert abs(w[0]) < 0.01 * abs(raw[0]) + 1e-3 and abs(w[-1]) < 1e-3  # fades in and out: no clicks
    assert np.array_equal(w[40:1600], raw[40:1600])  # between the fades the one-shot is untouched
    soft = sus(69, 64, 0.2)
    assert np.allclose(soft, w * (64 / 127) ** 2, rtol=1e-12) and src.calls == [69, 69]  # rendered once


@pytest.mark.parametrize("pitch", [57, 69, 76])
def test_sustained_loops_long_notes_steadily_at_pitch(pitch):
    src = Decaying()
    sr = src.sample_rate
    raw = src.note(pitch)
    w = P.Sustained(src, P.Envelope(release=0.2))(pitch, 127, 3.0)
    assert len(w) == round(3.2 * sr)
    hold = w[round(0.75 * sr) : round(3.0 * sr)]  # from where the loop (0.25 .. 0.7 s) takes over to the release
    frames = hold[: len(hold) // 400 * 400].reshape(-1, 400)  # 50 ms
    db = 20 * np.log10(np.sqrt((frames**2).mean(1)))
    assert db.max() - db.min() < 1.0  # levelled, seams in phase: the sustain neither pumps nor dips
    # the decaying one-shot at 0.7 s sits ~15 dB under its start: the loop holds that level, not the attack's
    level_at_end = 20 * np.log10(0.9 * np.exp(-0.7 / 0.4) / np.sqrt(2))
    assert abs(np.median(db) - level_at_end) < 1.0
    assert np.abs(np.diff(w)).max() <= 1.05 * np.abs(np.diff(raw)).max()  # no seam jumps more than the tone
    # held 0.9 s: past the one-shot's held part (0.7 s) the loop takes over though the one-shot lasts 1 s
    short = P.Sustained(src, P.Envelope(release=0.05))(pitch, 127, 0.9)[round(0.8 * sr) : round(0.9 * sr)]
    assert abs(20 * np.log10(np.sqrt((short**2).mean())) - level_at_end) < 1.0  # the raw is 3.3 dB lower there
    f = np.fft.rfftfreq(len(hold), 1 / sr)[np.argmax(np.abs(np.fft.rfft(hold * np.hanning(len(hold)))))]
    assert abs(f - 440 * 2 ** ((pitch - 69) / 12)) <= sr / len(hold)  # within one bin


def test_envelope_is_checked():
    with pytest.raises(UserError, match="loop_start < loop_end"):
        P.Envelope(loop_start=0.9, loop_end=0.5)
    with pytest.raises(UserError, match="release must be a number >= 0"):
        P.Envelope(release=-1)
    assert P.Envelope.from_dict({"release": 0.3}) == P.Envelope(release=0.3)


# ---- the GAN instrument: a tiny sound run (two pitch classes, A3 and A4, 0.25 s notes) ----------------

SR = 16000


@pytest.fixture(scope="module")
def sound_run(tiny_sound_run):
    return tiny_sound_run()


@pytest.fixture
def two_notes(tmp_path):
    """A3 for a beat, then C4 (not in the run: played from A3's zone, resampled) held for three, at 120 bpm."""
    return write_midi(tmp_path / "two.mid", [[(0, on(57, 127)), (480, off(57)), (480, on(60, 64)), (1920, off(60))]])


def test_play_writes_the_melody_and_its_instrument(sound_run, two_notes, tmp_path):
    out = tmp_path / "melody.wav"
    paths = P.play_run(sound_run, two_notes, out, latent=3, envelope=P.Envelope(release=0.1))
    assert paths == [out, out.with_suffix(".json")]
    wave = read_audio(out, SR)
    assert len(wave) == round((0.5 + 1.5 + 0.1) * SR)  # the last note ends at 2 s, then its release
    assert np.abs(wave).max() == pytest.approx(10 ** (-1 / 20), abs=2 / 32768)  # -1 dBFS, 16-bit rounding
    first, second = wave[: SR // 2], wave[SR // 2 + SR // 10 : 2 * SR]
    assert np.sqrt((second**2).mean()) > 1e-3  # the long note still sounds after its 0.25 s one-shot
    seed3 = L.from_seeds(ganstudio.load(sound_run), 1, 3)[0]
    assert json.loads(out.with_suffix(".json").read_text())["z"] == list(seed3.z) and first.any()


def test_play_blends_two_instruments(sound_run, two_notes, tmp_path):
    pipe = ganstudio.load(sound_run)
    lat = P.instrument_latent(pipe, 1, 2, 0.25)
    a, b = L.from_seeds(pipe, 1, 1)[0], L.from_seeds(pipe, 1, 2)[0]
    assert lat.parents == (a.id, b.id) and lat.origin["t"] == 0.25
    only_a = P.play_run(sound_run, two_notes, tmp_path / "a.wav", latent=1)[0]
    same = P.play_run(sound_run, two_notes, tmp_path / "a0.wav", latent=1, blend=2, amount=0.0)[0]
    mixed = P.play_run(sound_run, two_notes, tmp_path / "ab.wav", latent=1, blend=2, amount=0.5)[0]
    wa, w0, wab = (read_audio(p, SR) for p in (only_a, same, mixed))
    assert np.array_equal(wa, w0) and not np.array_equal(wa, wab)
    saved = L.load_latents(tmp_path / "a.json")[0]
    assert P.play_run(sound_run, two_notes, tmp_path / "again.wav", latent=str(tmp_path / "a.json"))
    assert np.array_equal(read_audio(tmp_path / "again.wav", SR), wa) and saved.z == a.z


def test_cli_play_and_errors_before_writing(sound_run, two_notes, tmp_path, capsys):
    out = tmp_path / "cli.wav"
    assert main(["play", str(sound_run), str(two_notes), "--out", str(out), "--mix", "0.3", "--blend", "4"]) == 0
    assert capsys.readouterr().out.split() == [str(out), str(out.with_suffix(".json"))]
    picture_run = tmp_path / "pictures"
    picture_run.mkdir()
    (picture_run / "config.json").write_text(json.dumps({"model": "dcgan"}))
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    target = tmp_path / "never.wav"
    for args, msg in [
        ([str(picture_run), str(two_notes)], "dcgan picture model; play needs a sound run"),
        ([str(sound_run), str(bad)], "cannot read"),
        ([str(sound_run), str(tmp_path / "missing.mid")], "not found"),
        ([str(sound_run), str(two_notes), "--blend", "2", "--mix", "1.5"], "--mix must be between 0"),
        ([str(sound_run), str(two_notes), "--latent", str(tmp_path / "nope.json")], "nope.json"),
    ]:
        code = main(["play", *args, "--out", str(target)])
        err = capsys.readouterr().err
        assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err
        assert not target.exists() and not target.with_suffix(".json").exists()
    assert main(["play", str(sound_run), str(two_notes), "--out", str(tmp_path / "x.mp3")]) == 2
    assert "ending in .wav" in capsys.readouterr().err
