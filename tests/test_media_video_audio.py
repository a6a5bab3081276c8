"""``media_video.mux_audio``: the video stream copied, the sound as AAC, both ending together, in sync."""

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf

from ganstudio import media_video
from ganstudio.errors import UserError

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def _video(path, frames: int, fps: float):
    rng = np.random.default_rng(0)
    return media_video.write_frames(rng.integers(0, 256, (frames, 16, 24, 3), dtype=np.uint8), path, fps=fps)


def _streams(path) -> str:
    return subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def _decoded(path, rate: int = 16000) -> np.ndarray:
    """The first audio stream decoded to mono float at ``rate`` (the bundled ffmpeg; there is no ffprobe)."""
    pcm = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", str(rate), "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(pcm, np.int16).astype(np.float32) / 32768


@pytest.mark.parametrize("audio_seconds", [0.8, 2.5])  # shorter: padded with silence; longer: cut
def test_mux_keeps_the_frames_and_ends_the_sound_with_the_video(tmp_path, audio_seconds):
    fps, frames = 25, 38  # 1.52 s
    video = _video(tmp_path / "v.mp4", frames, fps)
    sr = 16000
    wave = np.zeros(round(audio_seconds * sr), np.float32)
    wave[round(0.7 * sr)] = 0.9  # a click 0.7 s in
    sf.write(tmp_path / "a.wav", np.stack([wave, wave], 1), sr)
    out = media_video.mux_audio(video, tmp_path / "a.wav", tmp_path / "out.mp4")
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == frames
    info = _streams(out)
    assert "Video: h264" in info and "Audio: aac" in info
    got = _decoded(out, sr)
    assert abs(len(got) / sr - frames / fps) < 1 / fps  # within one frame of the video
    # AAC smears a click over a few ms; its peak stays where it was (the encoder delay is compensated)
    assert abs(int(np.abs(got).argmax()) - round(0.7 * sr)) <= sr // 1000
    # the copied video stream is the same picture data: same frames decode from both files
    a = np.stack(list(imageio_ffmpeg.read_frames(str(video)))[1:])
    b = np.stack(list(imageio_ffmpeg.read_frames(str(out)))[1:])
    assert a.shape == b.shape and np.array_equal(a, b)


def test_mux_with_an_explicit_duration_and_bad_sound(tmp_path):
    video = _video(tmp_path / "v.mp4", 12, 12)
    sf.write(tmp_path / "a.flac", np.zeros(8000, np.float32), 8000)
    out = media_video.mux_audio(video, tmp_path / "a.flac", tmp_path / "o.mp4", duration=1.0)
    assert abs(len(_decoded(out)) / 16000 - 1.0) < 1 / 12
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a sound at all")
    with pytest.raises(UserError, match=r"cannot add the sound bad\.wav"):
        media_video.mux_audio(video, bad, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "a.flac",
        "bad.wav",
        "o.mp4",
        "v.mp4",
    ]
