"""Latent -> frame, one picture at a time (batch 1), as fast as the CPU allows.

Each frame is a ``latents.Latent`` (z, class weights, truncation, direction edits) rendered by the
library's own path, so any frame of a show can be saved as a latent JSON and remade bit for bit by
``ganstudio generate --from``. Backends:

- ``torch`` (default): ``latents.render`` (G one row at a time) under ``torch.inference_mode``.
- ``onnx``: the run's generator exported by ``ganstudio.export`` and run by onnxruntime (same
  truncation and edits, computed by ``latents.effective_z``); its pixels may differ from PyTorch's by a
  rounding step, so a recording names its backend and replays with the same one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from .. import latents as L
from .. import media
from ..errors import UserError

BACKENDS = ("torch", "onnx")


def to_frame(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """(1, C, H, W) float in [0, 1] -> (H, W, C) uint8, C in {1, 3, 4}."""
    a = media.as_uint8_nchw(images)[0]
    return np.ascontiguousarray(a.transpose(1, 2, 0))


class TorchRenderer:
    name = "torch"

    def __init__(self, pipe, directions=None):
        self.pipe, self.directions = pipe, directions

    def render(self, latent: L.Latent) -> np.ndarray:
        with torch.inference_mode():
            return to_frame(L.render(self.pipe, [latent], self.directions, exact=False))


class OnnxRenderer:
    name = "onnx"

    def __init__(self, pipe, directions=None, model: str | Path | None = None, threads: int = 1):
        try:
            import onnxruntime as ort
        except ImportError:
            raise UserError("--backend onnx needs onnxruntime: pip install 'ganstudio[onnx]'") from None
        self.pipe, self.directions = pipe, directions
        self._tmp: tempfile.TemporaryDirectory | None = None
        if model is None:
            model = self._export(pipe)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def _export(self, pipe) -> Path:
        """The run's own export when it matches this checkpoint, else a fresh one in a temporary folder."""
        import json

        from ..export import export_onnx

        if pipe.run_dir is None:
            raise UserError("--backend onnx needs a run folder to export")
        own = Path(pipe.run_dir) / "export" / "generator.onnx"
        meta = own.with_suffix(".json")
        if own.is_file() and meta.is_file():
            try:
                if json.loads(meta.read_text()).get("step") == pipe.step:
                    return own
            except (OSError, ValueError):
                pass
        tmp = self._tmp = tempfile.TemporaryDirectory(prefix="ganstudio-live-")
        return export_onnx(pipe.run_dir, out=Path(tmp.name) / "generator.onnx", checkpoint=pipe.step).path

    def render(self, latent: L.Latent) -> np.ndarray:
        L.check_compatible([latent], self.pipe, self.directions, exact=False)
        feeds = {"z": L.effective_z([latent], self.directions).numpy()}
        y = L.condition_matrix(self.pipe, [latent])
        if "y" in self.inputs and y is not None:
            feeds["y"] = y.numpy()
        return to_frame(self.session.run(["images"], feeds)[0])


def make_renderer(backend: str, pipe, directions=None, threads: int = 1):
    if backend == "torch":
        return TorchRenderer(pipe, directions)
    if backend == "onnx":
        return OnnxRenderer(pipe, directions, threads=threads)
    raise UserError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
