"""``ganstudio export RUN_DIR --format onnx [--out g.onnx]``: the generator for other runtimes."""

from __future__ import annotations

import argparse

from ..argtypes import add_negative


def cmd_export(a: argparse.Namespace) -> int:
    from ..export import export_onnx

    res = export_onnx(
        a.run_dir,
        out=a.out,
        checkpoint=a.checkpoint,
        opset=a.opset,
        prompts=a.prompt,
        negative=a.negative,
        negative_weight=a.negative_weight,
    )
    m = res.meta
    if m["condition"] == "text":
        inputs = f"z, y (B, {m['text_dim']}) prompt embeddings ({m['text_model']})"
    else:
        inputs = "z" + (f", y (B, {m['num_classes']})" if m["num_classes"] else "")
    print(f"wrote {res.path} (step {m['step']}{', EMA generator' if m['ema'] else ''})")
    print(
        f"  inputs: {inputs} with z (B, {m['z_dim']}); output: images (B, {', '.join(map(str, m['image_shape']))}) "
        "in [0, 1]; B is dynamic"
    )
    if res.max_abs_diff is not None:
        print(f"  onnxruntime parity: max abs diff {res.max_abs_diff:.1e}")
    if m["condition"] == "text":
        shown = ", ".join(repr(p["text"]) for p in m["prompts"][:4]) + (", ..." if len(m["prompts"]) > 4 else "")
        print(
            f"  prompts with their embeddings in the metadata: {len(m['prompts'])}" + (f" ({shown})" if shown else "")
        )
    print(f"  metadata: {res.meta_path}")
    return 0


def register(sub) -> None:
    e = sub.add_parser("export", help="export a run's generator (ONNX)")
    e.add_argument("run_dir")
    e.add_argument("--format", default="onnx", choices=["onnx"], help="export format (onnx)")
    e.add_argument("--out", default=None, help="output file (default RUN_DIR/export/generator.onnx)")
    e.add_argument("--checkpoint", default="latest", help="latest, best, a step number or a checkpoint folder")
    e.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    e.add_argument(
        "--prompt",
        action="append",
        default=None,
        help="a run that reads text: carry this prompt's embedding in the metadata for pages (repeatable; "
        "default: 8 of the run's training captions)",
    )
    add_negative(
        e, "with a text run: every carried prompt steered away from this text (repeatable), as generate --negative"
    )
    e.set_defaults(func=cmd_export)
