"""Export a run's generator to ONNX: ``export_onnx(run_dir, out) -> ExportResult``.

The exported graph is the sampling generator (the EMA copy when the run has one, as
``pipeline.load`` picks it) with its post-processing built in:

  inputs   z (B, z_dim) float32 latents; y (B, num_classes) float32 class weights (conditional runs only)
  output   images (B, C, H, W) float32 in [0, 1]
  B        dynamic (any batch size, 1 included)

Truncation is left to the caller (multiply z by psi). What a consumer needs to know about the
model (z_dim, classes, image shape, step, run) is stored twice: in the ONNX file's
``metadata_props`` (key ``ganstudio``, JSON) and in a sidecar ``<out stem>.json`` that a web page
can fetch. The file is written atomically and, when onnxruntime is installed, checked against
PyTorch on a few seeded latents before it is put in place.
"""

from __future__ import annotations

import json
import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import runs
from .errors import UserError
from .fsutil import atomic_file

PARITY_TOL = 1e-4


@dataclass
class ExportResult:
    path: Path
    meta_path: Path
    meta: dict
    max_abs_diff: float | None  # PyTorch vs onnxruntime on a seeded check batch; None if not checked


class _Unconditional(nn.Module):
    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.G(z, None).float().add(1).mul(0.5).clamp(0, 1)


class _Conditional(nn.Module):
    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.G(z, y).float().add(1).mul(0.5).clamp(0, 1)


@contextmanager
def _quiet_exporter():
    """The exporter logs progress and warns about torchvision ops we never use; keep the CLI clean."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _export_graph(module: nn.Module, args: tuple, names: list[str], opset: int | None):
    """ONNX ModelProto with a symbolic batch dimension named 'batch' on every input and the output.

    ``torch.export`` in strict mode first (it keeps ``len(z)``-style batch sizes symbolic), then
    non-strict; a graph whose batch size got fixed anyway is refused rather than written.
    """
    import contextlib
    import io

    batch = torch.export.Dim("batch", min=1)
    shapes = tuple({0: batch} for _ in names)
    errors = []
    with _quiet_exporter(), contextlib.redirect_stdout(io.StringIO()):
        for strict in (True, False):
            try:
                ep = torch.export.export(module, args, dynamic_shapes=shapes, strict=strict)
                prog = torch.onnx.export(
                    ep,
                    args,
                    None,
                    input_names=names,
                    output_names=["images"],
                    dynamo=True,
                    opset_version=opset,
                    verbose=False,
                )
            except Exception as e:  # try the next strategy, report all if none works
                errors.append(f"{'strict' if strict else 'non-strict'}: {type(e).__name__}: {str(e).splitlines()[0]}")
                continue
            assert prog is not None  # dynamo=True always returns an ONNXProgram
            model = prog.model_proto
            if _rename_batch_dim(model, len(names)):
                return model
            errors.append(f"{'strict' if strict else 'non-strict'}: the batch size was fixed at {len(args[0])}")
    raise UserError("cannot export this generator to ONNX with a dynamic batch (" + "; ".join(errors) + ")")


def _rename_batch_dim(model, n_inputs: int) -> bool:
    """Name the symbolic batch dim 'batch' everywhere; False when an input's batch dim is a fixed number."""
    firsts = [i.type.tensor_type.shape.dim[0] for i in model.graph.input[:n_inputs]]
    if any(not d.dim_param for d in firsts):
        return False
    old = {d.dim_param for d in firsts}
    for vi in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param in old:
                d.dim_param = "batch"
    out0 = model.graph.output[0].type.tensor_type.shape.dim[0]
    return out0.dim_param == "batch"


def export_onnx(
    run_dir: str | Path,
    out: str | Path | None = None,
    checkpoint: str | int = "latest",
    opset: int | None = None,
    verify: bool = True,
) -> ExportResult:
    """Write the run's generator as ONNX (default ``RUN_DIR/export/generator.onnx``) plus a JSON sidecar."""
    try:
        import onnx
    except ImportError:
        raise UserError(
            "ONNX export needs the onnx extra: pip install 'ganstudio[onnx]' (onnx, onnxscript, onnxruntime)"
        ) from None
    from .pipeline import load

    pipe = load(run_dir, checkpoint=checkpoint, device="cpu")
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "export" / "generator.onnx"
    if out.suffix != ".onnx":
        raise UserError(f"--out must end in .onnx, got {out}")
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name ending in .onnx")
    out.parent.mkdir(parents=True, exist_ok=True)

    G = pipe.G.float().eval()
    k = pipe.num_classes
    z = pipe.latents(2, seed=0)
    args: tuple = (z,) if not k else (z, pipe.class_weights(None, 2))
    names = ["z"] if not k else ["z", "y"]
    module = (_Unconditional(G) if not k else _Conditional(G)).eval()
    with torch.no_grad():
        shape = tuple(module(*args).shape[1:])
    cfg = pipe.config
    meta = {
        "format": "ganstudio-onnx/1",
        "model": cfg.model,
        "z_dim": pipe.z_dim,
        "num_classes": k,
        "class_names": list(pipe.class_names) if k else [],
        "image_shape": list(shape),
        "step": pipe.step,
        "run": run_dir.resolve().name,
        "inputs": names,
        "output": "images",
        "output_range": [0, 1],
        "ema": _has_ema(run_dir, checkpoint),
    }

    with atomic_file(out, suffix=".onnx", fsync=True) as tmp:
        model = _export_graph(module, args, names, opset)
        del model.metadata_props[:]
        entry = model.metadata_props.add()
        entry.key, entry.value = "ganstudio", json.dumps(meta)
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
        diff = _parity(module, tmp, pipe, k) if verify else None
        if diff is not None and diff > PARITY_TOL:
            raise UserError(
                f"exported graph disagrees with PyTorch (max abs diff {diff:.2e} > {PARITY_TOL}); "
                "please report this model"
            )
        meta["parity_max_abs_diff"] = diff
    meta_path = out.with_suffix(".json")
    runs.atomic_write_json(meta_path, meta)
    return ExportResult(out, meta_path, meta, diff)


def _has_ema(run_dir: Path, checkpoint: str | int) -> bool:
    ckpt = runs.find_checkpoint(run_dir, checkpoint)
    if ckpt is None:  # not reached: the pipeline was just loaded from this checkpoint
        raise UserError(f"run {run_dir} has no checkpoint {checkpoint!r}")
    return ckpt.has("G_ema")


def _parity(module: nn.Module, path: Path, pipe, k: int) -> float | None:
    """Max |PyTorch - onnxruntime| over seeded batches of 1 and 5 (None when onnxruntime is missing)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for n in (1, 5):
        z = pipe.latents(n, seed=100)
        feeds = {"z": z.numpy()}
        args: tuple[torch.Tensor, ...] = (z,)
        if k:
            y = pipe.class_weights(None, n)
            feeds["y"], args = y.numpy(), (z, y)
        with torch.no_grad():
            ref = module(*args)
        got = torch.from_numpy(sess.run(["images"], feeds)[0])
        worst = max(worst, (got - ref).abs().max().item())
    return worst


def read_metadata(path: str | Path) -> dict:
    """The ``ganstudio`` metadata stored in an exported ONNX file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for p in model.metadata_props:
        if p.key == "ganstudio":
            return json.loads(p.value)
    raise UserError(f"{path} was not exported by ganstudio (no 'ganstudio' metadata)")
