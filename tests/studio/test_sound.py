"""The studio's Sound panel API on a tiny sound run made here (specgan, 3 pitches, 2 steps), and the
Animate panel's audio-reactive renders on a tiny picture run: notes as WAV, the morph between two
instruments, MIDI files played through ``creative.play.play_run``, uploads refused with one line."""

from __future__ import annotations

import io
import subprocess
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient

from ganstudio import latents as L
from ganstudio.config import RunConfig
from ganstudio.creative import play as P
from ganstudio.media_audio import write_wav
from ganstudio.pipeline import load, render_note
from ganstudio.studio import create_app
from ganstudio.studio.uploads import Limits

BASE = "http://127.0.0.1"
SR = 16000
PITCHES = {"A3": (57, 220.0), "C4": (60, 261.63), "A4": (69, 440.0)}


def tiny_sound_run(out: Path) -> Path:
    """A specgan run on a folder of tones at three pitches: 32 mel bins x 16 frames (0.25 s), 2 steps."""
    from ganstudio.training import train

    root = out / "notes"
    t = np.arange(SR // 4) / SR
    for name, (_, f) in PITCHES.items():
        (root / name).mkdir(parents=True)
        for i in range(3):
            write_wav(root / name / f"{i}.wav", 0.5 * np.sin(2 * np.pi * f * (1 + i / 200) * t), SR)
    cfg = RunConfig.from_dict(
        {
            "model": "specgan",
            "conditional": True,
            "data": {"name": str(root), "labels": True, "height": 32, "resolution": 16},
            "model_config": {"g_channels": 8, "d_channels": 8},
            "train": {"steps": 2, "batch_size": 4, "threads": 1, "seed": 0, "checkpoint_every": 2},
        }
    )
    return Path(train(cfg, out=out / "runs", progress=False))


def two_note_midi(path: Path) -> Path:
    """120 bpm: A3 from 0 to 0.5 s, A4 from 0.5 to 1.25 s (velocity 100)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    tr = mido.MidiTrack()
    tr.append(mido.MetaMessage("set_tempo", tempo=500_000, time=0))
    tr.append(mido.Message("note_on", note=57, velocity=100, time=0))
    tr.append(mido.Message("note_off", note=57, time=480))
    tr.append(mido.Message("note_on", note=69, velocity=100, time=0))
    tr.append(mido.Message("note_off", note=69, time=720))
    mid.tracks.append(tr)
    mid.save(path)
    return path


def read_wav(data: bytes) -> tuple[np.ndarray, int, int, int]:
    """(samples in [-1, 1], sample rate, channels, bytes per sample) of a WAV file's bytes."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32767
        return x, w.getframerate(), w.getnchannels(), w.getsampwidth()


@pytest.fixture(scope="module")
def sound_env(tmp_path_factory, tiny_config):
    from ganstudio.training import train

    base = tmp_path_factory.mktemp("sound")
    run = tiny_sound_run(base)
    train(tiny_config(steps=10, threads=1), out=run.parent, progress=False)  # a picture run beside it
    pic = next(p.name for p in run.parent.iterdir() if p.name.endswith("-mlp-digits"))
    return run.parent, run.name, pic


@pytest.fixture(scope="module")
def client(sound_env):
    return TestClient(create_app(sound_env[0]), base_url=BASE)


def test_runs_listing_marks_sound_runs_and_info_names_the_pitches(client, sound_env):
    _, run, pic = sound_env
    kinds = {r["name"]: r["sound"] for r in client.get("/api/runs").json()}
    assert kinds == {run: True, pic: False}
    info = client.get("/api/sound", params={"run": run}).json()
    assert info["pitches"] == [57, 60, 69] and info["pitch_names"] == ["A3", "C4", "A4"]
    assert info["sample_rate"] == SR and info["seconds"] == 0.25 and info["step"] == 2 and info["classes"] == []
    r = client.get("/api/sound", params={"run": pic})
    assert r.status_code == 400 and "makes pictures, not sound" in r.json()["detail"]


def test_a_note_is_a_wav_of_the_library_note(client, sound_env):
    root, run, _ = sound_env
    r = client.get("/api/sound/note.wav", params={"run": run, "seed": 3, "pitch": 60})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav" and r.headers["x-ganstudio-step"] == "2"
    x, sr, ch, width = read_wav(r.content)
    assert (sr, ch, width) == (SR, 1, 2) and len(x) == SR // 4
    pipe = load(root / run)
    ref = render_note(pipe, 60, z=P.instrument_latent(pipe, 3))  # what `ganstudio play --latent 3` plays at C4
    assert np.abs(x - ref).max() <= 1.5 / 32767 and np.abs(x).max() == pytest.approx(0.9, abs=1e-3)
    assert client.get("/api/sound/note.wav", params={"run": run, "seed": 3, "pitch": 60}).content == r.content
    other = read_wav(client.get("/api/sound/note.wav", params={"run": run, "seed": 4, "pitch": 60}).content)[0]
    assert np.abs(other - x).max() > 0.05  # another seed, another instrument
    soft = read_wav(
        client.get("/api/sound/note.wav", params={"run": run, "seed": 3, "pitch": 60, "velocity": 64}).content
    )[0]
    assert np.abs(soft).max() == pytest.approx(0.9 * (64 / 127) ** 2, abs=2e-4)  # General MIDI's curve
    middle = client.get("/api/sound/note.wav", params={"run": run, "seed": 3}).content  # no pitch: the middle one
    assert middle == r.content


def test_the_morph_slider_blends_two_instruments(client, sound_env):
    _, run, _ = sound_env

    def note(**q):
        return read_wav(client.get("/api/sound/note.wav", params={"run": run, "pitch": 69, **q}).content)[0]

    a, b = note(seed=1), note(seed=2)
    assert np.array_equal(note(seed=1, blend=2, mix=0), a) and np.array_equal(note(seed=1, blend=2, mix=1), b)
    half = note(seed=1, blend=2, mix=0.5)
    assert np.abs(half - a).max() > 0.01 and np.abs(half - b).max() > 0.01


@pytest.mark.parametrize(
    "query,status,words",
    [
        ({"pitch": 61}, 400, "outside run"),
        ({"pitch": 200}, 422, "pitch"),
        ({"mix": 1.5}, 422, "mix"),
        ({"class": 1}, 400, "give a pitch, not a class"),
        ({"run": "00099-nope"}, 404, "unknown run"),
        ({"colour": "red"}, 422, "colour"),
    ],
)
def test_bad_note_requests_are_one_line_4xx(client, sound_env, query, status, words):
    r = client.get("/api/sound/note.wav", params={"run": sound_env[1], **query})
    assert r.status_code == status and words in r.json()["detail"] and "\n" not in r.json()["detail"], r.text


def test_note_of_a_picture_run_is_refused(client, sound_env):
    r = client.get("/api/sound/note.wav", params={"run": sound_env[2]})
    assert r.status_code == 400 and "makes pictures, not sound" in r.json()["detail"]


def test_midi_upload_is_played_by_the_library_play_function(client, sound_env, tmp_path):
    root, run, _ = sound_env
    midi = two_note_midi(tmp_path / "two notes!.mid")
    form = {"run": run, "seed": "1", "blend": "2", "mix": "0.25"}
    r = client.post("/api/sound/play", data=form, files={"file": (midi.name, midi.read_bytes(), "audio/midi")})
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["notes"] == 2 and res["sample_rate"] == SR and res["name"] == "two_notes" and res["step"] == 2
    end, release = 1.25, P.Envelope().release  # the last note ends at 1.25 s, then its release
    assert abs(res["seconds"] - (end + release)) <= 2 / SR
    w = client.get(res["url"])
    assert w.status_code == 200 and w.headers["content-type"] == "audio/wav"
    assert 'filename="two_notes.wav"' in w.headers["content-disposition"]
    x, sr, ch, _ = read_wav(w.content)
    assert sr == SR and ch == 1 and len(x) == round(res["seconds"] * SR)
    cli = P.play_run(root / run, midi, tmp_path / "cli.wav", latent=1, blend=2, amount=0.25)
    assert (tmp_path / "cli.wav").read_bytes() == w.content  # the same file `ganstudio play` writes
    lat = L.Latent.from_dict(res["latent"])
    assert [lat] == L.load_many(str(cli[1])) and len(lat.parents) == 2


def test_bad_midi_uploads_are_refused_before_anything_is_written(sound_env, tmp_path):
    root, run, pic = sound_env
    c = TestClient(create_app(root, limits=Limits(max_midi_bytes=300)), base_url=BASE)
    sound_dir = root / ".studio" / "sound"
    before = sorted(sound_dir.iterdir()) if sound_dir.exists() else []
    good = two_note_midi(tmp_path / "a.mid").read_bytes()
    empty = mido.MidiFile(type=1)
    empty.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)]))
    buf = io.BytesIO()
    empty.save(file=buf)
    cases = [
        ("song.txt", good, {}, "not a MIDI file"),
        ("song.mid", b"RIFF" + bytes(100), {}, "not a Standard MIDI File"),
        ("song.mid", b"MThd\x00\x00\x00\x06garbage", {}, "not a readable MIDI file"),
        ("song.mid", good + bytes(400), {}, "larger than 0 KB"),
        ("song.mid", buf.getvalue(), {}, "has no notes to play"),
        ("song.mid", good, {"run": pic}, "play needs a sound run"),
        ("song.mid", good, {"transpose": "60"}, "transpose"),
        ("song.mid", good, {"colour": "red"}, "colour"),
    ]
    for name, data, extra, words in cases:
        r = c.post("/api/sound/play", data={"run": run, **extra}, files={"file": (name, data)})
        detail = r.json()["detail"]
        assert r.status_code == 400 and words in detail and "\n" not in detail, (name, extra, r.text)
    assert (sorted(sound_dir.iterdir()) if sound_dir.exists() else []) == before
    r = c.post("/api/sound/play", data={"run": run})
    assert r.status_code == 400 and "MIDI file" in r.json()["detail"]
    assert c.get("/api/sound/renders/ffffffffffff").status_code == 404


def tone_wav(seconds: float, sr: int = 22050) -> bytes:
    t = np.arange(round(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + (t % 0.25 < 0.02))  # a tone with a pulse every 0.25 s
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((x * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def audio_streams(path: Path) -> int:
    import imageio_ffmpeg

    info = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    ).stderr
    return sum(1 for line in info.splitlines() if "Stream #" in line and "Audio:" in line)


def test_animate_follows_an_uploaded_sound_file(client, sound_env, tmp_path, finish_render):
    import imageio_ffmpeg

    root, _, pic = sound_env
    form = {"run": pic, "keys": '[{"seed": 1}, {"seed": 2}]', "fps": "12", "size": "32", "format": "mp4"}
    r = client.post("/api/animations/audio", data=form, files={"file": ("beat.wav", tone_wav(1.0), "audio/wav")})
    assert r.status_code == 200, r.text
    t = finish_render(client, r.json(), tries=600)
    assert t["status"] == "done" and t["progress"] == 1.0, t
    f = client.get(t["url"])
    assert f.status_code == 200 and f.headers["content-type"] == "video/mp4"
    out = tmp_path / "a.mp4"
    out.write_bytes(f.content)
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 12 and audio_streams(out) == 1  # 1 s at 12 fps
    walk = L.load_latents(root / ".studio" / "renders" / f"{t['id']}.npz")
    assert len(walk) == 12 and walk[0].run == pic


def test_bad_sound_uploads_are_one_line_errors(sound_env):
    root, _, pic = sound_env
    c = TestClient(create_app(root, limits=Limits(max_sound_seconds=2.0)), base_url=BASE)
    renders = root / ".studio" / "renders"
    before = sorted(renders.iterdir()) if renders.exists() else []
    ok = {"run": pic, "keys": '[{"seed": 1}]'}
    cases = [
        ("beat.txt", tone_wav(0.5), ok, "not a sound file"),
        ("beat.wav", b"RIFF" + bytes(60), ok, "not a readable sound file"),
        ("beat.wav", tone_wav(3.0), ok, "lasts 3 s, more than 2 s"),
        ("beat.wav", tone_wav(0.5), {"run": pic, "keys": "not json"}, "keys must be a JSON list"),
        ("beat.wav", tone_wav(0.5), {"run": pic, "keys": "[]"}, "keys"),
        ("beat.wav", tone_wav(0.5), {**ok, "fps": "100"}, "fps"),
    ]
    for name, data, form, words in cases:
        r = c.post("/api/animations/audio", data=form, files={"file": (name, data)})
        detail = r.json()["detail"]
        assert r.status_code == 400 and words in detail and "\n" not in detail, (name, form, r.text)
    assert (sorted(renders.iterdir()) if renders.exists() else []) == before


def test_openapi_fuzz_of_the_sound_routes_finds_no_server_errors(sound_env):
    """The Sound panel's routes and the audio-reactive render on a real sound run: no input gives a 5xx."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    app = create_app(sound_env[0], extra_hosts=("testserver",))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=r"^/api/(sound|animations/audio)")
    ops = [op.ok() for op in schema.get_all_operations()]
    assert len(ops) == 5
    failures: list[str] = []
    import torch

    torch.set_flush_denormal(False)  # training turned it on; hypothesis needs subnormal floats

    def checker(op):
        @settings(
            max_examples=8, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def check(case):
            if "run" in (case.query or {}):
                case.query["run"] = sound_env[1]  # mostly the real sound run, so the fuzz reaches the renderer
            resp = case.call()
            seen.add((op.path, resp.status_code))
            if resp.status_code >= 500:
                failures.append(f"{op.method.upper()} {op.path}: {resp.status_code} {resp.text[:200]}")

        return check

    seen: set[tuple[str, int]] = set()
    for op in ops:
        given(op.as_strategy())(checker(op))()
    assert not failures, failures
    assert ("/api/sound", 200) in seen and ("/api/sound/note.wav", 200) in seen, sorted(seen)  # it got through
