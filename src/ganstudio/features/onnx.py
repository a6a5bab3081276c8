"""``onnx:PATH``: any feature network exported to ONNX, run with onnxruntime on the CPU.

The contract a model must keep
    * one float32 input shaped (N, C, H, W); a fixed C, H, W is honoured (images are converted
      and resized to it), a dynamic one takes the images as they are. A fixed batch size works
      too (the last batch is padded);
    * pixel values in [0, 1], or in [-1, 1] when the model's metadata has ``input_range = "-1,1"``
      (``onnx.helper.set_model_props(model, {"input_range": "-1,1"})``);
    * the output named ``features`` (else the first output) gives the features, flattened to (N, D);
    * optionally an output named ``probs``/``probabilities`` (softmax already applied) or ``logits``
      (softmax applied here) gives class predictions (enables classifier score / class coverage).

The extractor is called ``onnx-<file stem>`` and its id is the start of the sha256 of the file.
Needs ``pip install 'ganstudio[onnx]'`` (onnxruntime).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..runs import slug
from .base import Extractor

PROB_NAMES = ("probs", "probabilities")
LOGIT_NAMES = ("logits",)


def _static(d) -> int | None:
    return d if isinstance(d, int) and d > 0 else None


class OnnxExtractor(Extractor):
    def __init__(self, path: str | Path):
        try:
            import onnxruntime as ort
        except ImportError:
            raise UserError("--features onnx:PATH needs onnxruntime: pip install 'ganstudio[onnx]'") from None
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise UserError(f"ONNX model {path} not found")
        data = self.path.read_bytes()
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            raise UserError(f"onnxruntime cannot load {path}: {str(e).splitlines()[0]}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].type != "tensor(float)":
            got = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
            raise UserError(f"{path}: expected one float32 input shaped (N, C, H, W), got {got}")
        self.input_name = inputs[0].name
        n, c, h, w = inputs[0].shape
        self.fixed_batch = _static(n)
        self.input_channels = _static(c)
        self.input_size = (h, w) if _static(h) and _static(w) else None
        outs = [o.name for o in self.session.get_outputs()]
        self.feature_output = "features" if "features" in outs else outs[0]
        self.prob_output = next(
            (o for o in outs if o.lower() in PROB_NAMES + LOGIT_NAMES and o != self.feature_output), None
        )
        self.prob_is_logits = self.prob_output is not None and self.prob_output.lower() in LOGIT_NAMES
        meta = self.session.get_modelmeta().custom_metadata_map or {}
        rng = meta.get("input_range", "0,1").replace(" ", "")
        if rng not in ("0,1", "-1,1"):
            raise UserError(f"{path}: metadata input_range must be '0,1' or '-1,1', got {rng!r}")
        self.signed_input = rng == "-1,1"
        self.id = hashlib.sha256(data).hexdigest()[:12]
        self.name = f"onnx-{slug(self.path.stem)}"
        self.description = f"user ONNX network {self.path.name} (output {self.feature_output!r})"
        self.num_classes = 0
        if self.prob_output is not None:
            shape = next(o.shape for o in self.session.get_outputs() if o.name == self.prob_output)
            self.num_classes = _static(shape[-1]) or 0
        if self.fixed_batch:
            self.batch_size = self.fixed_batch

    def _forward(self, x: torch.Tensor):
        a = x.numpy().astype(np.float32)
        if self.signed_input:
            a = a * 2 - 1
        b = len(a)
        if self.fixed_batch and b != self.fixed_batch:
            a = np.concatenate([a, np.repeat(a[-1:], self.fixed_batch - b, axis=0)])
        names = [self.feature_output] + ([self.prob_output] if self.prob_output else [])
        try:
            res = self.session.run(names, {self.input_name: np.ascontiguousarray(a)})
        except Exception as e:
            raise UserError(f"{self.path.name} failed on input {a.shape}: {str(e).splitlines()[0]}") from None
        feats = np.asarray(res[0])[:b].reshape(b, -1)
        probs = None
        if self.prob_output:
            p = np.asarray(res[1], dtype=np.float64)[:b].reshape(b, -1)
            if self.prob_is_logits:
                p = np.exp(p - p.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
            probs = p
            self.num_classes = p.shape[1]
        return feats, probs

    def extra_info(self) -> dict:
        return {
            "path": str(self.path),
            "feature_output": self.feature_output,
            "prob_output": self.prob_output,
            "input_range": "-1,1" if self.signed_input else "0,1",
        }
