"""Export a run's generator to ONNX: ``export_onnx(run_dir, out) -> ExportResult``.

The exported graph is the sampling generator (the EMA copy when the run has one, as
``pipeline.load`` picks it) with its post-processing built in:

  inputs   z (B, z_dim) float32 latents; y (B, num_classes) float32 class weights (class-conditional runs),
           or y (B, text_dim) float32 unit sentence embeddings of prompts (runs that read text: ``condition``
           "text", embedded with the run's ``text_model``)
  output   images (B, C, H, W) float32 in [0, 1]
  B        dynamic (any batch size, 1 included)

A page cannot run the sentence model, so the sidecar of a text run carries ready embeddings: ``prompts``, a list
of ``{"text", "y", "text_hash"}`` (the prompts asked for, or by default up to DEFAULT_PROMPTS of the run's training
captions); a walk between two prompts feeds the slerp of their embeddings, as the creative tools' walks do
(``interpolate.slerp_weights``). A retrieving run (``model_config.retrieve``) exports with its bank of training pictures inside the graph.

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
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import runs
from .errors import UserError
from .fsutil import atomic_file
from .latents import NEGATIVE_WEIGHT, with_negative
from .textembed import fingerprint

PARITY_TOL = 1e-4
DEFAULT_PROMPTS = 8  # training captions a text run's sidecar carries when no prompts are given


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
    prompts: Sequence[str] | None = None,
    negative: str | Sequence[str] | None = None,
    negative_weight: float = NEGATIVE_WEIGHT,
) -> ExportResult:
    """Write the run's generator as ONNX (default ``RUN_DIR/export/generator.onnx``) plus a JSON sidecar.
    ``prompts`` (runs that read text): the prompts whose embeddings the sidecar carries (None: up to
    DEFAULT_PROMPTS of the run's training captions); ``negative``: each carried prompt steered away from it, at
    ``negative_weight`` (``latents.with_negative``: the sidecar carries the steered embedding)."""
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
    if (prompts or negative is not None) and not pipe.reads_text:
        raise UserError("--prompt/--negative: this run does not read text; export it without prompts")
    # embeds (and checks) before writing
    carried = prompt_table(pipe, prompts, negative, negative_weight) if pipe.reads_text else []
    out.parent.mkdir(parents=True, exist_ok=True)

    G = pipe.G.float().eval()
    k = pipe.num_classes
    condition = "text" if pipe.reads_text else "class" if k else "none"
    # the first call also makes what a retrieving G caches (its variety directions) outside the traced graph
    args = _example_inputs(pipe, condition, carried, 2)
    names = ["z"] if condition == "none" else ["z", "y"]
    module = (_Unconditional(G) if condition == "none" else _Conditional(G)).eval()
    with torch.no_grad():
        shape = tuple(module(*args).shape[1:])
    cfg = pipe.config
    meta = {
        "format": "ganstudio-onnx/1",
        "model": cfg.model,
        "z_dim": pipe.z_dim,
        "condition": condition,
        "num_classes": k if condition == "class" else 0,
        "class_names": list(pipe.class_names) if condition == "class" else [],
        "image_shape": list(shape),
        "step": pipe.step,
        "run": run_dir.resolve().name,
        "inputs": names,
        "output": "images",
        "output_range": [0, 1],
        "ema": _has_ema(run_dir, checkpoint),
    }
    if condition == "text":
        meta.update(text_dim=pipe.text_dim, text_model=pipe.text_model, prompts=carried)

    with atomic_file(out, suffix=".onnx", fsync=True) as tmp:
        model = _export_graph(module, args, names, opset)
        del model.metadata_props[:]
        entry = model.metadata_props.add()
        entry.key, entry.value = "ganstudio", json.dumps(meta)
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
        diff = _parity(module, tmp, pipe, condition, carried) if verify else None
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


def prompt_table(
    pipe,
    prompts: Sequence[str] | None,
    negative: str | Sequence[str] | None = None,
    negative_weight: float = NEGATIVE_WEIGHT,
) -> list[dict]:
    """The sidecar's ``prompts`` of a text run: ``{"text", "y" (text_dim floats, the float32 embedding exactly),
    "text_hash"}`` for each prompt, or (None) for up to DEFAULT_PROMPTS of the run's training captions
    (``Pipeline.spread_captions``); with ``negative``, each steered away from it ("a car, not red (50%)", the
    mix's embedding and its fingerprint)."""
    if prompts is None:
        prompts = pipe.spread_captions(DEFAULT_PROMPTS)
    table = []
    for text in prompts:
        e, label = pipe.labelled_embedding(with_negative(text.strip(), negative, negative_weight))
        table.append({"text": label, "y": [float(v) for v in e.tolist()], "text_hash": fingerprint(e.numpy())})
    return table


def _example_inputs(pipe, condition: str, carried: list[dict], n: int) -> tuple[torch.Tensor, ...]:
    """Seeded (z,) or (z, y) for tracing and the parity check: class weights in turn, or the carried prompts'
    embeddings in turn (a fixed phrase's when there are none)."""
    z = pipe.latents(n, seed=100 + n)
    if condition == "none":
        return (z,)
    if condition == "class":
        return z, pipe.class_weights(None, n)
    rows = [torch.tensor(p["y"]) for p in carried] or [pipe.embed_prompt("a picture")]
    return z, torch.stack([rows[i % len(rows)] for i in range(n)])


def _parity(module: nn.Module, path: Path, pipe, condition: str, carried: list[dict]) -> float | None:
    """Max |PyTorch - onnxruntime| over seeded batches of 1 and 5 (None when onnxruntime is missing)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for n in (1, 5):
        args = _example_inputs(pipe, condition, carried, n)
        feeds = {name: a.numpy() for name, a in zip(("z", "y"), args)}
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
