"""Sound files in and out (soundfile), resampling, and the spectrogram transforms. Knows nothing about GANs.

Waveforms at this boundary are float32 numpy arrays in [-1, 1]: shape (N,) mono or (N, channels).
Spectrogram transforms take and return torch tensors so that they batch on the model's device:

- ``stft``/``istft``: torch.stft with a periodic Hann window, centred frames. (torchaudio is not
  used: its PyPI wheels are CUDA builds that do not load beside this CPU torch.)
- ``mel_filterbank``: HTK-mel triangles, each row normalised to sum 1, so a mel bin is a weighted
  *average* of linear magnitudes (its pseudo-inverse is then a fair way back).
- ``instantaneous_frequency`` / ``phase_from_if``: a bin's frequency in Hz from the frame-to-frame
  phase advance (the phase-vocoder estimate), and the phase rebuilt from it by a cumulative sum —
  GANSynth's "IF" inversion, with no vocoder.
- ``griffin_lim``: phase from magnitude alone by alternating projections (the baseline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .errors import UserError
from .fsutil import atomic_file

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def _soundfile():
    try:
        import soundfile
    except ImportError as e:  # pragma: no cover - depends on the install
        raise UserError("reading and writing sound needs soundfile: pip install 'ganstudio[audio]'") from e
    return soundfile


# ---------------------------------------------------------------------------------------------- files


def read_audio(path: str | Path, sample_rate: int, mono: bool = True) -> np.ndarray:
    """A sound file as float32 at ``sample_rate``: (N,) when ``mono`` (channels averaged), else
    (N, channels). Raises UserError (one line) for a missing, unreadable or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"sound file {path} not found; check the path")
    sf = _soundfile()
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError/RuntimeError/TypeError for bad files
        raise UserError(f"cannot read {path} as sound ({e}); give a WAV, FLAC or OGG file") from e
    if data.size == 0:
        raise UserError(f"sound file {path} is empty; give a file with at least one sample")
    if not np.isfinite(data).all():
        raise UserError(f"sound file {path} holds NaN or infinite samples; re-export it")
    wave = data.mean(axis=1) if mono else data
    if int(sr) != int(sample_rate):
        wave = resample(wave, int(sr), int(sample_rate))
    return np.ascontiguousarray(wave, dtype=np.float32)


def write_wav(path: str | Path, wave: np.ndarray, sample_rate: int) -> Path:
    """Write (N,) or (N, channels) float samples as 16-bit PCM WAV, clipped to [-1, 1]; atomic (a
    temporary file beside the target, then a rename). Returns the path."""
    path = Path(path)
    a = np.asarray(wave, dtype=np.float32)
    if a.ndim not in (1, 2) or a.shape[0] == 0:
        raise ValueError(f"write_wav wants (N,) or (N, channels) samples, got shape {a.shape}")
    a = np.clip(np.nan_to_num(a, nan=0.0), -1.0, 1.0)
    sf = _soundfile()
    with atomic_file(path, suffix=".wav") as tmp:
        sf.write(str(tmp), a, int(sample_rate), subtype="PCM_16", format="WAV")
    return path


# ------------------------------------------------------------------------------------------ resampling


@lru_cache(maxsize=16)
def _resample_kernel(down: int, up: int, zeros: int = 16, rolloff: float = 0.99) -> tuple[torch.Tensor, int]:
    """Polyphase windowed-sinc filters (up, 1, taps) for ``down`` input samples -> ``up`` output samples
    (rates already divided by their gcd); the cutoff sits just below the lower Nyquist (anti-aliasing)."""
    base = min(down, up) * rolloff
    width = math.ceil(zeros * down / base)
    idx = torch.arange(-width, width + down, dtype=torch.float64)[None, :] / down
    t = (torch.arange(0, -up, -1, dtype=torch.float64)[:, None] / up + idx) * base
    t = t.clamp(-zeros, zeros)
    window = torch.cos(t * math.pi / zeros / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / torch.where(t == 0, torch.ones_like(t), t))
    return (sinc * window * base / down).float()[:, None, :], width


def resample(wave: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Band-limited resampling (windowed sinc, anti-aliased) of (N,) or (N, channels) along axis 0;
    the result has round(N * sr_to / sr_from) samples."""
    a = np.asarray(wave, dtype=np.float32)
    if sr_from <= 0 or sr_to <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_from} -> {sr_to}")
    if sr_from == sr_to or a.shape[0] == 0:
        return a.copy()
    g = math.gcd(int(sr_from), int(sr_to))
    down, up = int(sr_from) // g, int(sr_to) // g
    kernel, width = _resample_kernel(down, up)
    x = torch.from_numpy(a.reshape(a.shape[0], -1).T.copy())  # (channels, N)
    n = x.shape[1]
    x = torch.nn.functional.pad(x[:, None, :], (width, width + down))
    y = torch.nn.functional.conv1d(x, kernel, stride=down)  # (channels, up, frames)
    y = y.transpose(1, 2).reshape(x.shape[0], -1)
    out_len = round(n * up / down)
    out = y[:, :out_len].T.numpy()
    return np.ascontiguousarray(out.reshape((out_len,) + a.shape[1:]), dtype=np.float32)


def fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad (N,) samples to ``length``."""
    if wave.shape[0] >= length:
        return wave[:length]
    return np.concatenate([wave, np.zeros((length - wave.shape[0],) + wave.shape[1:], dtype=wave.dtype)])


# ---------------------------------------------------------------------------------------- spectrograms


def _window(n_fft: int, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.hann_window(n_fft, periodic=True, device=device)


def stft(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, N) float -> (B, n_fft//2 + 1, 1 + N//hop) complex, centred Hann frames."""
    # zero padding, not reflect: a note starts at sample 0 and a mirrored attack would be a pre-echo
    return torch.stft(
        wave,
        n_fft,
        hop_length=hop,
        window=_window(n_fft, wave.device),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )


def istft(spec: torch.Tensor, n_fft: int, hop: int, length: int) -> torch.Tensor:
    """Inverse of ``stft``: (B, n_fft//2 + 1, frames) complex -> (B, length) float."""
    return torch.istft(spec, n_fft, hop_length=hop, window=_window(n_fft, spec.device), center=True, length=length)


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def _mel_np(n_mels: int, n_fft: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(sample_rate / 2), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - freqs[None, :]) / np.maximum(hi - mid, 1e-9)
    fb = np.clip(np.minimum(up, down), 0.0, None)
    # A triangle narrower than a linear bin can fall between bins: give it its nearest bin, so every
    # mel bin sees something and the pseudo-inverse stays well posed.
    for m in np.where(fb.sum(axis=1) == 0)[0]:
        fb[m, int(np.argmin(np.abs(freqs - mid[m, 0])))] = 1.0
    fb = fb / fb.sum(axis=1, keepdims=True)
    return fb.astype(np.float32), edges[1:-1].astype(np.float32)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int) -> torch.Tensor:
    """(n_mels, n_fft//2 + 1): row m is mel bin m's triangle over the linear bins, summing to 1."""
    return torch.from_numpy(_mel_np(n_mels, n_fft, sample_rate)[0].copy())


def mel_centers(n_mels: int, n_fft: int, sample_rate: int) -> torch.Tensor:
    """(n_mels,) centre frequencies in Hz."""
    return torch.from_numpy(_mel_np(n_mels, n_fft, sample_rate)[1].copy())


@lru_cache(maxsize=8)
def _mel_inverse_np(n_mels: int, n_fft: int, sample_rate: int) -> np.ndarray:
    fb = _mel_np(n_mels, n_fft, sample_rate)[0].astype(np.float64)
    return np.linalg.pinv(fb).astype(np.float32)  # (bins, n_mels)


def mel_inverse(n_mels: int, n_fft: int, sample_rate: int) -> torch.Tensor:
    """(n_fft//2 + 1, n_mels): the least-squares way back from mel magnitudes to linear ones."""
    return torch.from_numpy(_mel_inverse_np(n_mels, n_fft, sample_rate).copy())


@lru_cache(maxsize=8)
def _mel_spread_np(n_mels: int, n_fft: int, sample_rate: int) -> np.ndarray:
    """(bins, n_mels): each linear bin's share of every mel bin (the filterbank's columns, normalised)
    — how a per-mel-bin quantity such as a frequency is handed back to the linear bins."""
    fb = _mel_np(n_mels, n_fft, sample_rate)[0].T.astype(np.float64)
    s = fb.sum(axis=1, keepdims=True)
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    centers = _mel_np(n_mels, n_fft, sample_rate)[1]
    for k in np.where(s[:, 0] == 0)[0]:  # a linear bin no triangle reaches: its nearest mel bin
        fb[k, int(np.argmin(np.abs(centers - freqs[k])))] = 1.0
    return (fb / fb.sum(axis=1, keepdims=True)).astype(np.float32)


def mel_spread(n_mels: int, n_fft: int, sample_rate: int) -> torch.Tensor:
    return torch.from_numpy(_mel_spread_np(n_mels, n_fft, sample_rate).copy())


def princarg(phase: torch.Tensor) -> torch.Tensor:
    """Wrap angles to (-pi, pi]."""
    return phase - 2 * math.pi * torch.round(phase / (2 * math.pi))


def instantaneous_frequency(spec: torch.Tensor, n_fft: int, hop: int, sample_rate: int) -> torch.Tensor:
    """(..., bins, frames) complex -> (..., bins, frames) Hz: bin k's frequency from its phase advance
    between frames, f_k + princarg(dphi - 2 pi k hop / n_fft) * sr / (2 pi hop) (the phase-vocoder
    estimate; exact for a stationary partial within sr / (2 hop) Hz of the bin). Frame 0 copies frame 1."""
    bins = spec.shape[-2]
    k = torch.arange(bins, device=spec.device, dtype=torch.float32)[:, None]
    phase = torch.angle(spec)
    dphi = phase[..., 1:] - phase[..., :-1]
    dev = princarg(dphi - 2 * math.pi * k * hop / n_fft)
    f = (k * sample_rate / n_fft) + dev * sample_rate / (2 * math.pi * hop)
    return torch.cat([f[..., :1], f], dim=-1)


def phase_from_if(freq_hz: torch.Tensor, n_fft: int, hop: int, sample_rate: int) -> torch.Tensor:
    """(..., bins, frames) Hz -> phase: the cumulative sum of each frame's advance 2 pi f hop / sr, plus
    pi k for bin k — the phase a centred Hann frame gives a partial in bin k (the window's linear phase),
    so neighbouring bins of one partial add up in the middle of the frame instead of at its edges."""
    bins = freq_hz.shape[-2]
    k = torch.arange(bins, device=freq_hz.device, dtype=torch.float32)[:, None]
    advance = 2 * math.pi * freq_hz * hop / sample_rate
    phase = torch.cumsum(advance, dim=-1) - advance[..., :1]
    return princarg(phase + math.pi * k)


def griffin_lim(
    magnitude: torch.Tensor, n_fft: int, hop: int, length: int, iterations: int = 32, momentum: float = 0.99
) -> torch.Tensor:
    """(B, bins, frames) linear magnitude -> (B, length) waveform: Griffin-Lim with the "fast" momentum
    of Perraudin et al. 2013, from a fixed zero phase so the result is deterministic."""
    angles = torch.ones_like(magnitude, dtype=torch.complex64)
    prev = torch.zeros_like(angles)
    wave = istft(magnitude * angles, n_fft, hop, length)
    for _ in range(iterations):
        rebuilt = stft(wave, n_fft, hop)[..., : magnitude.shape[-1]]
        if rebuilt.shape[-1] < magnitude.shape[-1]:
            rebuilt = torch.nn.functional.pad(rebuilt, (0, magnitude.shape[-1] - rebuilt.shape[-1]))
        accel = rebuilt - (momentum / (1 + momentum)) * prev
        prev = rebuilt
        angles = accel / accel.abs().clamp_min(1e-8)
        wave = istft(magnitude * angles, n_fft, hop, length)
    return wave


# ------------------------------------------------------------------------------- the GAN's representation

LOG_FLOOR = 1e-3  # magnitudes below this (about -108 dB of a full-scale partial) all read as silence
LOG_PEAK = 256.0  # ~ a full-scale partial's peak: amplitude 1 x sum(hann(1000)) / 2 = 250


@dataclass(frozen=True)
class SpecCodec:
    """Waveforms <-> the fixed-size spectrogram pictures an audio GAN draws, (B, C, n_mels, frames) in [-1, 1].

    Channel 0: log mel magnitude, log(m + LOG_FLOOR) mapped linearly from [log LOG_FLOOR, log LOG_PEAK] to
    [-1, 1]. Channel 1 (``channels == 2``, GANSynth's "IF-Mel"): each mel bin's instantaneous frequency
    (the magnitude-weighted mean of its linear bins' phase-vocoder frequencies) as an offset from the bin's
    centre in units of ``if_range`` (its half-width, at least sr / (2 hop): the phase advance is only
    unambiguous that far), clipped to [-1, 1]. Row 0 is the lowest mel bin; frame t is centred on sample
    t * hop, and a clip holds ``frames * hop`` samples (64 x 250 = 1 s at 16 kHz).

    ``decode``: mel -> linear magnitudes by the filterbank's pseudo-inverse; the phase by integrating the
    instantaneous frequency (each linear bin takes the frequency of the mel bins that cover it, weighted
    by their energy, so all bins of a partial advance together), or with one channel by Griffin-Lim.
    """

    sample_rate: int = 16000
    n_fft: int = 1000
    hop: int = 250
    n_mels: int = 128
    frames: int = 64
    channels: int = 2  # 2: log-magnitude + instantaneous frequency; 1: log-magnitude only (Griffin-Lim)
    gl_iterations: int = 32

    def __post_init__(self) -> None:
        if self.channels not in (1, 2):
            raise ValueError(f"SpecCodec channels must be 1 (magnitude) or 2 (magnitude + IF), got {self.channels}")
        if min(self.sample_rate, self.n_fft, self.hop, self.n_mels, self.frames) <= 0 or self.hop > self.n_fft:
            raise ValueError(f"bad SpecCodec sizes: {self}")

    @property
    def length(self) -> int:
        """Samples in one clip."""
        return self.frames * self.hop

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.n_mels, self.frames)

    def _fb(self, device) -> torch.Tensor:
        return mel_filterbank(self.n_mels, self.n_fft, self.sample_rate).to(device)

    def if_range(self, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(centres, half-ranges) in Hz, (n_mels, 1) each."""
        fb = _mel_np(self.n_mels, self.n_fft, self.sample_rate)[0]
        freqs = np.arange(self.n_fft // 2 + 1) * self.sample_rate / self.n_fft
        centers = _mel_np(self.n_mels, self.n_fft, self.sample_rate)[1].astype(np.float64)
        lo = np.array([freqs[row > 0].min() for row in fb])
        hi = np.array([freqs[row > 0].max() for row in fb])
        half = np.maximum(np.maximum(hi - centers, centers - lo), self.sample_rate / (2 * self.hop))
        as_t = lambda a: torch.tensor(a, dtype=torch.float32, device=device)[:, None]
        return as_t(centers), as_t(half)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, N) float waveforms (trimmed or zero-padded to ``length``) -> (B, C, n_mels, frames) in [-1, 1]."""
        if wave.shape[-1] != self.length:
            wave = torch.nn.functional.pad(wave, (0, max(0, self.length - wave.shape[-1])))[..., : self.length]
        spec = stft(wave.float(), self.n_fft, self.hop)[..., : self.frames]  # the last (padding) frame dropped
        mag = spec.abs()
        fb = self._fb(wave.device)
        mel = fb @ mag  # (B, M, T)
        lo, hi = math.log(LOG_FLOOR), math.log(LOG_PEAK)
        logm = (torch.log(mel + LOG_FLOOR) - lo) / (hi - lo) * 2 - 1
        if self.channels == 1:
            return logm.clamp(-1, 1)[:, None]
        f_lin = instantaneous_frequency(spec, self.n_fft, self.hop, self.sample_rate)
        centers, half = self.if_range(wave.device)
        num = fb @ (mag * f_lin)
        den = fb @ mag
        f_mel = torch.where(den > 1e-8, num / den.clamp_min(1e-8), centers.expand_as(den))
        if_norm = ((f_mel - centers) / half).clamp(-1, 1)
        return torch.stack([logm.clamp(-1, 1), if_norm], dim=1)

    def magnitudes(self, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, M, T) -> (mel magnitudes (B, M, T), linear magnitudes (B, n_fft//2 + 1, T))."""
        lo, hi = math.log(LOG_FLOOR), math.log(LOG_PEAK)
        mel = (torch.exp((spec[:, 0].float().clamp(-1, 1) + 1) / 2 * (hi - lo) + lo) - LOG_FLOOR).clamp_min(0)
        inv = mel_inverse(self.n_mels, self.n_fft, self.sample_rate).to(spec.device)
        return mel, (inv @ mel).clamp_min(0)

    def decode(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, C, n_mels, frames) in [-1, 1] -> (B, length) float waveforms (not normalised)."""
        if spec.ndim != 4 or tuple(spec.shape[1:]) != self.shape:
            raise ValueError(f"SpecCodec.decode wants (B, {', '.join(map(str, self.shape))}), got {tuple(spec.shape)}")
        mel, lin = self.magnitudes(spec)
        pad = lambda x: torch.nn.functional.pad(x, (0, 1))  # the dropped last frame, back as silence
        if self.channels == 1:
            return griffin_lim(pad(lin), self.n_fft, self.hop, self.length, self.gl_iterations)
        centers, half = self.if_range(spec.device)
        f_mel = centers + spec[:, 1].float().clamp(-1, 1) * half  # (B, M, T) Hz
        spread = mel_spread(self.n_mels, self.n_fft, self.sample_rate).to(spec.device)  # (K, M)
        # each linear bin's frequency: the energy-weighted mean over the mel bins covering it,
        # sum_m spread[k, m] e[m] f[m] / sum_m spread[k, m] e[m] with e = mel^2: two (K, M) x (M, T) products
        # per clip, never the (B, K, M, T) weights (800 MB and most of the decode time for 49 notes)
        energy = mel.float() ** 2 + 1e-12  # (B, M, T)
        f_lin = torch.matmul(spread, energy * f_mel) / torch.matmul(spread, energy)  # (B, K, T)
        phase = phase_from_if(f_lin, self.n_fft, self.hop, self.sample_rate)
        return istft(pad(torch.polar(lin, phase)), self.n_fft, self.hop, self.length)


def peak_normalize(wave: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale (N,) or (B, N) so each clip's largest |sample| is ``peak`` (silent clips unchanged)."""
    a = np.asarray(wave, dtype=np.float32)
    m = np.abs(a).max(axis=-1, keepdims=True)
    return np.where(m > 1e-8, a * (peak / np.maximum(m, 1e-8)), a).astype(np.float32)


_MAGMA = np.array(
    [
        [0, 0, 4],
        [28, 16, 68],
        [79, 18, 123],
        [129, 37, 129],
        [181, 54, 122],
        [229, 80, 100],
        [251, 135, 97],
        [254, 194, 135],
        [252, 253, 191],
    ],
    dtype=np.float32,
)  # magma's colour ramp at 9 stops


def spectrogram_picture(spec: np.ndarray) -> np.ndarray:
    """(B, C, M, T) in [-1, 1] (channel 0 = log magnitude) -> uint8 (B, 3, M, T) pictures: low frequencies at
    the bottom, loudness as magma colours."""
    x = (np.clip(np.asarray(spec, dtype=np.float32)[:, 0], -1, 1) + 1) / 2 * (len(_MAGMA) - 1)  # (B, M, T)
    i = np.clip(np.floor(x).astype(int), 0, len(_MAGMA) - 2)
    f = (x - i)[..., None]
    rgb = _MAGMA[i] * (1 - f) + _MAGMA[i + 1] * f  # (B, M, T, 3)
    return np.ascontiguousarray(rgb[:, ::-1].transpose(0, 3, 1, 2).round().astype(np.uint8))
