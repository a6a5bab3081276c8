"""The Sound panel in real headless Chromium, on a tiny sound run made here (specgan, 3 pitches, 2 steps):
the note players get WAVs the browser decodes, a key click renders a new note, the morph slider blends two
instruments, a MIDI upload comes back as a WAV as long as the melody; and the Animate panel renders a walk
that follows an uploaded sound file (an MP4 with a sound track). No sound device is needed: the checks read
the audio elements and the files they point to.

Needs Debian's chromium (/usr/bin/chromium), the Python playwright package (never `playwright install`)
and axe-core in tests/js/node_modules, as tests/studio/test_browser.py; skipped otherwise.
"""

from __future__ import annotations

import io
import subprocess
import urllib.request
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

from ganstudio.browser import chromium_path, launch_chromium

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"
SR = 16000
PITCHES = {"A3": 220.0, "C4": 261.63, "A4": 440.0}  # MIDI 57, 60, 69

pytestmark = [
    pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make browser)"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (npm install --prefix tests/js)"),
]


def wav_info(data: bytes) -> tuple[int, int, np.ndarray]:
    """(sample rate, channels, samples) of WAV bytes, which must start with a RIFF/WAVE header."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:16]
    with wave.open(io.BytesIO(data)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32767
        return w.getframerate(), w.getnchannels(), x


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_config, serve, write_tones, tiny_sound_run):
    import torch

    from ganstudio.studio import create_app
    from ganstudio.training import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("sound-browser")
    runs = base / "runs"
    train(tiny_config(steps=10, threads=1), out=runs, progress=False)  # a picture run for Animate
    sound_run = tiny_sound_run(
        write_tones(base / "notes", PITCHES, per_class=3), runs
    )  # the newest run: the page opens it
    app = create_app(runs)
    with serve(app) as url:
        yield url, runs, sound_run.name
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw, "--autoplay-policy=no-user-gesture-required")
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        pg = ctx.new_page()
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        yield pg
        ctx.close()
        browser.close()


def get(base: str, src: str) -> bytes:
    with urllib.request.urlopen(base + src if src.startswith("/") else src, timeout=30) as r:
        return r.read()


def decoded_duration(page, selector: str) -> float:
    """Seconds of the sound the browser itself decoded from the element's src (its metadata loaded)."""
    page.wait_for_function(
        "s => { const a = document.querySelector(s); return a && a.readyState >= 1 && isFinite(a.duration); }",
        arg=selector,
        timeout=15000,
    )
    return page.evaluate("s => document.querySelector(s).duration", selector)


@pytest.mark.timeout(90)
def test_sound_panel_players_keyboard_morph_and_midi(server, page, tmp_path, axe):
    base, _, run = server
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready=true]")
    # a sound run opens on the Sound panel; the picture panels are not offered for it
    page.wait_for_selector("#panel-sound:not([hidden])")
    assert page.input_value("#run-select") == run
    assert page.is_hidden("#tab-create") and page.is_visible("#tab-sound")

    # players: 8 notes (seeds 0..7 at the middle pitch, C4), each a WAV the browser decodes
    page.wait_for_function("document.querySelectorAll('#sound-notes audio').length === 8")
    srcs = page.eval_on_selector_all("#sound-notes audio", "els => els.map(a => a.getAttribute('src'))")
    assert all("pitch=60" in s for s in srcs) and len(set(srcs)) == 8
    waves = []
    for s in srcs[:2]:
        sr, ch, x = wav_info(get(base, s))
        assert (sr, ch, len(x)) == (SR, 1, SR // 4)
        waves.append(x)
    assert np.abs(waves[0] - waves[1]).max() > 0.05  # two seeds, two instruments
    assert decoded_duration(page, "#sound-notes .note-card:nth-child(2) audio") == pytest.approx(0.25, abs=0.01)

    # the keyboard: the run's three pitches; a click renders that pitch as a new WAV in the player
    assert page.locator("#keyboard .key").all_inner_texts() == ["A3", "C4", "A4"]
    before = page.get_attribute("#sound-morph", "src")
    page.click("#keyboard .key[data-value='69']")
    page.wait_for_function("document.querySelector('#sound-morph').getAttribute('src').includes('pitch=69')")
    assert page.get_attribute("#keyboard .key[data-value='69']", "aria-pressed") == "true"
    src69 = page.get_attribute("#sound-morph", "src")
    assert src69 != before
    sr, _, a4 = wav_info(get(base, src69))
    _, _, c4 = wav_info(get(base, before))
    assert sr == SR and len(a4) == SR // 4 and np.abs(a4 - c4).max() > 0.05
    assert decoded_duration(page, "#sound-morph") == pytest.approx(0.25, abs=0.01)

    # the morph slider: all the way to instrument B (seed 1) is seed 1's note at that pitch
    page.eval_on_selector("#sound-mix", "e => { e.value = '1'; e.dispatchEvent(new Event('input')); }")
    page.wait_for_function("document.querySelector('#sound-morph').getAttribute('src').includes('mix=1')")
    morphed = wav_info(get(base, page.get_attribute("#sound-morph", "src")))[2]
    seed1 = wav_info(get(base, f"/api/sound/note.wav?run={run}&seed=1&pitch=69"))[2]
    assert np.array_equal(morphed, seed1) and np.abs(morphed - a4).max() > 0.05

    # a MIDI file: the WAV lasts the melody (its last note ends at 1.25 s) plus the release (0.15 s)
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    tr = mido.MidiTrack()
    tr += [mido.MetaMessage("set_tempo", tempo=500_000, time=0), mido.Message("note_on", note=57, velocity=100, time=0),
           mido.Message("note_off", note=57, time=480), mido.Message("note_on", note=69, velocity=90, time=0),
           mido.Message("note_off", note=69, time=720)]  # fmt: skip
    mid.tracks.append(tr)
    mid.save(tmp_path / "tune.mid")
    page.set_input_files("#midi-file", str(tmp_path / "tune.mid"))
    page.wait_for_selector("#midi-audio:not([hidden])")
    assert "2 notes" in page.inner_text("#midi-status")
    sr, ch, melody = wav_info(get(base, page.get_attribute("#midi-audio", "src")))
    assert sr == SR and ch == 1 and abs(len(melody) - round((1.25 + 0.15) * SR)) <= 2
    assert decoded_duration(page, "#midi-audio") == pytest.approx(1.4, abs=0.01)
    assert page.get_attribute("#midi-download", "download") == "tune.wav"

    # a file that is not MIDI: one line, shown on the page
    (tmp_path / "notes.mid").write_bytes(b"not a midi file")
    page.set_input_files("#midi-file", str(tmp_path / "notes.mid"))
    page.wait_for_function("document.querySelector('#midi-status').textContent.includes('Could not play')")
    assert "not a Standard MIDI File" in page.inner_text("#midi-status")

    assert axe(page) == []
    assert page.errors == []


@pytest.mark.timeout(90)
def test_animate_panel_renders_a_walk_that_follows_a_sound_file(server, page, tmp_path):
    import imageio_ffmpeg

    base, runs, _ = server
    pic = next(p.name for p in runs.iterdir() if p.name.endswith("-mlp-digits"))
    req = urllib.request.Request(
        base + "/api/rate",
        data=f'{{"run": "{pic}", "latent": {{"seed": 3}}, "value": 1}}'.encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=30).read()  # a favourite to take the keyframe from
    page.goto(base + "/#animate")
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#run-select", pic)
    page.wait_for_selector("#tab-animate:not([hidden])")
    assert page.is_hidden("#tab-sound")
    page.click("#tab-animate")
    page.wait_for_selector("#anim-favs button.pick")
    page.locator("#anim-favs button.pick").first.click()
    t = np.arange(int(0.75 * 22050)) / 22050
    x = (0.3 * np.sin(2 * np.pi * 330 * t) * 32767).astype("<i2")
    with wave.open(str(tmp_path / "beat.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(x.tobytes())
    page.set_input_files("#anim-audio", str(tmp_path / "beat.wav"))
    page.fill("#anim-form input[name=fps]", "12")
    page.select_option("#anim-form select[name=size]", "128")
    page.select_option("#anim-form select[name=format]", "mp4")
    page.click("#anim-render")
    page.wait_for_selector("#anim-download:not([hidden])", timeout=60000)
    out = tmp_path / "walk.mp4"
    out.write_bytes(get(base, page.get_attribute("#anim-download", "href")))
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 9  # 0.75 s at 12 fps
    info = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True
    ).stderr
    assert sum("Stream #" in line and "Audio:" in line for line in info.splitlines()) == 1
    assert page.errors == []
