"""Audio-reactive walks: features land on the right frames, the mapping drives speed, pulses and direction,
and ``animate --audio`` writes a frame-accurate MP4 with the sound in it."""

import json
import math
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf
import torch

import ganstudio
from ganstudio import latents as L
from ganstudio import media_video
from ganstudio.cli import main
from ganstudio.creative import animate as A
from ganstudio.creative import audio_react as AR
from ganstudio.errors import UserError

SR = 22050  # the analysis rate: these waves go to ``analyse`` without resampling


def clicks(frames_at: list[int], fps: float, seconds: float, offset: float = 0.5, sr: int = SR) -> np.ndarray:
    """Silence (with a little noise) and one-sample clicks at (frame + offset) / fps."""
    w = 1e-3 * np.random.default_rng(0).standard_normal(round(seconds * sr))
    for f in frames_at:
        w[round((f + offset) / fps * sr)] += 0.9
    return w.astype(np.float32)


def tone(hz: float, seconds: float, start: float = 0.05, end: float = 1.0, sr: int = SR) -> np.ndarray:
    """A sine whose amplitude grows linearly from ``start`` to ``end``, with 50 ms fades (no edge clicks)."""
    t = np.arange(round(seconds * sr)) / sr
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    return (np.linspace(start, end, len(t)) * fade * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("fps", [24, 30, 60])
@pytest.mark.parametrize("offset", [0.05, 0.5, 0.95])  # at 60 fps 0.05 of a frame is 0.83 ms from its edge
def test_onsets_land_on_their_frames(fps, offset):
    at = [3, 11, 20, 34, 46]
    feats = AR.analyse(clicks(at, fps, 2.0, offset), SR, fps)
    assert feats.frames == round(2.0 * fps)
    # a click is dated to within 0.4 ms (measured over click levels and positions; a parabola through the
    # flux peak), half the 0.83 ms margin: frame-exact, once each
    assert np.flatnonzero(feats.onset >= AR.AudioMap().onset_threshold).tolist() == at


@pytest.mark.parametrize("seconds", [1.0, 1.37, 2.013, 0.51])
def test_frame_count_is_the_duration_at_fps(seconds):
    feats = AR.analyse(np.zeros(round(seconds * SR), np.float32), SR, 30)
    assert feats.frames == round(seconds * 30) and abs(feats.frames / 30 - feats.duration) <= 0.5 / 30 + 1 / SR
    assert not feats.loudness.any() and not feats.onset.any()  # silence: quiet, no onsets
    assert np.allclose(feats.chroma, 1 / 12)  # and no pitch class


def test_a_louder_tone_is_louder_and_no_onset_and_its_pitch_class():
    feats = AR.analyse(tone(440.0, 2.0), SR, 30)
    loud = feats.loudness[2:-2]  # away from the fades
    assert np.all(np.diff(loud) > 0) and loud[0] < 0.7 < 0.97 < loud[-1]
    # the amplitude at frame i's middle is 0.05 + 0.95 t / 2: loudness differences are its dB over 40 dB
    # (the RMS of a sine is amplitude / sqrt 2 for both frames; the ramp within a frame changes it < 0.1 dB)
    amp = [0.05 + 0.95 * ((i + 0.5) / 30) / 2 for i in (2, feats.frames - 3)]
    assert loud[-1] - loud[0] == pytest.approx(20 * math.log10(amp[1] / amp[0]) / 40, abs=0.01)
    assert feats.onset[2:].max() < AR.AudioMap().onset_threshold  # a crescendo is not a beat
    assert (feats.chroma[3:-3].argmax(1) == 9).all() and feats.chroma[30, 9] > 0.9  # A
    c = AR.analyse(tone(261.63, 1.0), SR, 30).chroma
    assert (c[3:-3].argmax(1) == 0).all()  # C
    assert np.allclose(feats.chroma.sum(1), 1)


def _features(loudness, onset=None, pc=9, fps=30.0):
    n = len(loudness)
    chroma = np.full((n, 12), 0.01)
    chroma[:, pc] = 1
    chroma /= chroma.sum(1, keepdims=True)
    return AR.AudioFeatures(fps, n / fps, np.asarray(loudness, float), np.zeros(n) if onset is None else onset, chroma)


def test_loudness_sets_the_speed_and_the_walk_stays_on_the_sphere():
    amap = AR.AudioMap(base_speed=0.2, loudness_speed=1.5, loudness_curve=2.0)
    loud = np.linspace(0, 1, 60)
    anchors = torch.randn(12, 16, generator=torch.Generator().manual_seed(0))
    z, trunc, step = AR.audio_walk(_features(loud), anchors, amap, seed=1)
    assert z.shape == (60, 16) and not trunc.any()
    radius = float(anchors.norm(dim=1).mean())
    assert torch.allclose(z.norm(dim=1), torch.full((60,), radius), rtol=1e-5)
    expected = (0.2 + 1.5 * loud[1:] ** 2) / 30
    chord = (z[1:] - z[:-1]).double().norm(dim=1)
    angle = 2 * torch.asin(chord / (2 * radius))
    # float32 z: each coordinate rounds by ~6e-8 of R, against chords of at least R / 150
    assert np.allclose(angle.numpy(), expected, rtol=1e-4)
    assert np.allclose(step[1:].numpy(), expected, rtol=1e-6)


def test_onsets_pulse_truncation_and_jump_then_decay():
    onset = np.zeros(40)
    onset[[10, 25]] = [1.0, 0.6]
    onset[5] = 0.2  # under the threshold: nothing
    amap = AR.AudioMap(onset_truncation=0.5, onset_jump=0.3, pulse_decay=0.1, base_speed=0.1, loudness_speed=0)
    anchors = torch.randn(12, 8, generator=torch.Generator().manual_seed(0))
    _, trunc, step = AR.audio_walk(_features(np.zeros(40), onset), anchors, amap)
    fall = math.exp(-1 / (30 * 0.1))
    assert trunc[:10].abs().max() == 0 and trunc[10] == pytest.approx(0.5)
    assert trunc[13] == pytest.approx(0.5 * fall**3, rel=1e-5) and trunc[25] == pytest.approx(0.3, rel=1e-5)
    assert step[10] == pytest.approx(0.1 / 30 + 0.3, rel=1e-5) and step[9] == pytest.approx(0.1 / 30, rel=1e-5)


@pytest.mark.parametrize("pc", [0, 4, 9])
def test_chroma_steers_toward_its_anchor_and_a_seed_makes_the_same_walk(pc):
    anchors = torch.randn(12, 32, generator=torch.Generator().manual_seed(2))
    feats = _features(np.full(150, 0.5), pc=pc)  # five seconds of one pitch class
    z, _, _ = AR.audio_walk(feats, anchors, AR.AudioMap(), seed=3, start=anchors[(pc + 6) % 12])
    cos = torch.nn.functional.cosine_similarity(z[:, None], anchors[None], dim=2)  # (T, 12)
    assert cos[0, pc] < 0.5 and (cos[-60:].argmax(1) == pc).all()
    # speed 0.1 + 1.2 * 0.5 ** 1.5 = 0.52 rad/s, turning 4 rad/s: it circles within ~2 * 0.52 / 4 rad of it
    assert cos[-60:, pc].min() > math.cos(2 * 0.53 / 4) - 0.02
    again, _, _ = AR.audio_walk(feats, anchors, AR.AudioMap(), seed=3, start=anchors[(pc + 6) % 12])
    other, _, _ = AR.audio_walk(feats, anchors, AR.AudioMap(), seed=4, start=anchors[(pc + 6) % 12])
    assert torch.equal(z, again) and not torch.equal(z, other)


def test_audio_map_is_json_data(tmp_path):
    amap = AR.AudioMap(onset_jump=0.5)
    assert AR.AudioMap.from_dict(json.loads(json.dumps(amap.to_dict()))) == amap
    f = tmp_path / "map.json"
    f.write_text(json.dumps({"loudness_speed": 2, "onset_truncation": -0.3}))
    assert AR.load_map(str(f)) == AR.AudioMap(loudness_speed=2.0, onset_truncation=-0.3)
    assert AR.load_map('{"chroma_turn": 1}').chroma_turn == 1.0 and AR.load_map(None) == AR.AudioMap()
    for bad, msg in [
        ('{"speed": 1}', "unknown field(s) speed"),
        ('{"base_speed": -1}', "base_speed must be >= 0"),
        ('{"pulse_decay": "fast"}', "pulse_decay must be a finite number"),
        ('{"onset_threshold": 2}', "onset_threshold"),
        ("{oops", "not valid JSON"),
        (str(tmp_path / "missing.json"), "not found"),
    ]:
        with pytest.raises(UserError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            AR.load_map(bad)


def _audio_streams(path) -> tuple[int, float]:
    """(audio streams, seconds of the first one decoded) from the bundled ffmpeg (there is no ffprobe)."""
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    info = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    n = sum(1 for line in info.splitlines() if "Stream #" in line and "Audio:" in line)
    if not n:
        return 0, 0.0
    pcm = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", "48000", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return n, len(pcm) / 2 / 48000


def test_animate_with_audio_writes_a_frame_accurate_mp4_with_sound(run, tmp_path):
    seconds, fps = 1.37, 24
    wav = tmp_path / "song.wav"
    sf.write(wav, tone(330.0, seconds, sr=16000) + clicks([5, 17], fps, seconds, sr=16000), 16000)
    paths = A.animate_run(run, tmp_path / "walk.mp4", audio=str(wav), fps=fps, size=16, progress=False)
    frames = round(seconds * fps)
    assert imageio_ffmpeg.count_frames_and_secs(str(paths[0]))[0] == frames
    streams, audio_seconds = _audio_streams(paths[0])
    assert streams == 1 and abs(audio_seconds - frames / fps) < 1 / fps
    lats = L.load_latents(paths[1])
    assert len(lats) == frames and lats[0].origin["op"] == "audio"
    psi = np.array([lat.truncation for lat in lats])
    assert psi.argmax() in (5, 17) and psi[5] > 1.1 and psi[17] > 1.1  # the clicks pulse
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary files left behind


def test_cli_animate_audio_and_its_errors(run, tmp_path, capsys):
    wav = tmp_path / "beat.wav"
    sf.write(wav, clicks([2, 9], 12, 1.0, sr=8000), 8000)
    out = tmp_path / "a.mp4"
    argv = ["animate", str(run), "--audio", str(wav), "--fps", "12", "--size", "16", "--quiet", "--out", str(out)]
    assert main(argv + ["--seeds", "1,2,3", "--audio-map", '{"onset_jump": 0.4}']) == 0
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 12
    keys = L.from_seeds(ganstudio.load(run), 3, seed=1)
    walk = L.load_latents(tmp_path / "a.npz")
    assert walk[0].z == keys[0].z  # starts at the first keyframe
    gif = tmp_path / "b.gif"  # no sound in a GIF, but the same walk, frame for frame
    assert main([*argv[:-1], str(gif), "--seeds", "1,2,3", "--audio-map", '{"onset_jump": 0.4}']) == 0
    assert media_video.count_frames(gif) == 12 and L.load_latents(tmp_path / "b.npz") == walk
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEfmt nonsense")
    capsys.readouterr()
    for args, msg in [
        (["--audio", str(tmp_path / "none.wav")], "not found"),
        (["--audio", str(bad)], "cannot read"),
        (["--audio", str(wav), "--audio-map", '{"speed": 2}'], "unknown field"),
        (["--audio-map", "{}", "--mode", "circle"], "--audio-map needs --audio"),
    ]:
        target = tmp_path / "err.mp4"
        code = main(["animate", str(run), "--size", "16", "--quiet", "--out", str(target), *args])
        err = capsys.readouterr().err
        assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err
        assert not target.exists() and not (tmp_path / "err.npz").exists()
