"""``build_gallery(runs, out) -> GalleryResult``: check everything, then write the gallery folder whole.

Layout of the folder (all static; any web server, or ``ganstudio studio`` at ``/xr/<name>/``)::

    index.html gallery.js worker.js emulate.js style.css    the page (``xr/static``)
    gallery.json                                            the manifest the page reads (``FORMAT``)
    works/<run>/<stem>.png + <stem>.json                    each work and its Latent (remakeable)
    works/<run>/<stem>-v<k>.png + .json                     its variations
    models/<run>.onnx + <run>.json                          the generator of a living painting
    vendor/three, vendor/ort, vendor/iwer                   npm files (``assets``)

Every check (runs, --out, npm files, the onnx extra) runs before anything is written; the folder is built
beside ``out`` and renamed into place, so a failed build leaves nothing half made.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import latents as L
from .. import runs
from ..errors import UserError
from ..generate import prompt_list
from ..models import get_family
from . import assets
from .works import RunWorks, Work, caption, collect, stem

FORMAT = "ganstudio.xr-gallery/1"
STATIC = Path(__file__).resolve().parent / "static"
PAGE_FILES = ("index.html", "gallery.js", "worker.js", "emulate.js", "style.css")


@dataclass
class GalleryResult:
    out: Path
    n_works: int
    n_living: int
    size_bytes: int  # the whole folder
    seconds: float


def check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a new or empty folder for the gallery")
    if out.is_dir() and any(out.iterdir()):
        raise UserError(f"--out {out} is not empty; give a new or empty folder (the gallery is written whole)")


def check_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise UserError(
            f"living paintings need the onnx extra ({e.name} is missing): pip install 'ganstudio[onnx]', "
            "or build without them: --living 0"
        ) from None


def check_run(run_dir: Path) -> None:
    cfg = runs.read_config_dict(run_dir)
    task = get_family(cfg["model"]).task.name
    if task != "noise-to-image":
        raise UserError(f"{run_dir} is a {task} run; the gallery hangs pictures drawn from noise (noise-to-image runs)")
    if runs.find_checkpoint(run_dir) is None:
        raise UserError(f"run {run_dir} has no checkpoint yet; train it first (or wait for its first save)")


def check_prompts(dirs: Sequence[Path], prompts: Sequence[str]) -> None:
    """Prompts are for runs that read text, and say something (``generate.prompt_list`` refuses an empty one)."""
    prompt_list(prompts)
    plain = [d.name for d in dirs if not runs.read_config_dict(d).get("model_config", {}).get("text_dim")]
    if len(plain) == len(dirs):
        raise UserError(f"--prompt: no run here reads text ({', '.join(plain)}); hang them without prompts")


def build_gallery(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    n: int = 8,
    seed: int = 0,
    curate: int | None = None,
    variations: int = 4,
    living: bool = True,
    favourites: int = 12,
    emulator: bool = True,
    title: str | None = None,
    checkpoint: str = "latest",
    log: Callable[[str], None] = lambda s: None,
    prompts: Sequence[str] | None = None,
    negative: str | Sequence[str] | None = None,
    negative_weight: float = L.NEGATIVE_WEIGHT,
) -> GalleryResult:
    """A WebXR gallery of ``n`` works per run in the new or empty folder ``out``.

    ``curate``: draw this many samples per run and hang the ones the run's discriminator finds most realistic
    (None: 4 per place to fill; 0: plain seeds). ``living``: one living painting per run (needs the onnx
    extra). ``emulator``: copy iwer so that ``?emulate=1`` previews the VR/AR modes without a headset.
    ``prompts``: what runs that read text draw, in turn (None: each seed its training caption), each steered away
    from ``negative`` at ``negative_weight`` when given (``latents.with_negative``)."""
    t0 = time.perf_counter()
    if not run_dirs:
        raise UserError("give at least one run folder")
    if n <= 0:
        raise UserError(f"--n must be positive, got {n}")
    dirs = [runs.require_run(r) for r in run_dirs]
    for d in dirs:
        check_run(d)
    if prompts is not None:
        check_prompts(dirs, prompts)
    L.check_negative(
        prompts,
        negative,
        negative_weight,
        needs_prompt='--negative steers the works\' prompts away from some text; give them: --prompt "a heart"',
    )
    out = Path(out)
    check_out(out)
    wanted = assets.wanted(living, emulator)
    npm_root = assets.check(wanted)
    if living:
        check_onnx()

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        manifest_runs = []
        n_works = 0
        for key, d in zip(_keys(dirs), dirs):
            log(f"{d.name}: choosing and drawing {n} works")
            pool = curate if curate is not None else 4 * n
            rw = collect(
                d, key, n, seed, pool or None, favourites, variations, checkpoint, prompts, negative, negative_weight
            )
            entry = _write_run(rw, tmp)
            if living:
                log(f"{d.name}: exporting the generator to ONNX (its living painting)")
                entry["living"] = _write_living(rw, tmp, checkpoint)
            manifest_runs.append(entry)
            n_works += len(rw.works)
        for f in PAGE_FILES:
            shutil.copyfile(STATIC / f, tmp / f)
        assets.copy(wanted, npm_root, tmp)
        manifest = {
            "format": FORMAT,
            "title": title or "ganstudio gallery: " + ", ".join(d.name for d in dirs),
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "emulator": emulator,
            "runs": manifest_runs,
        }
        runs.atomic_write_json(tmp / "gallery.json", manifest)
        if out.is_dir():
            out.rmdir()  # empty (checked above)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    n_living = sum(1 for r in manifest_runs if r.get("living"))
    return GalleryResult(out, n_works, n_living, size, time.perf_counter() - t0)


def _keys(dirs: list[Path]) -> list[str]:
    """Each run's folder name, made unique (two runs folders may both hold a 00001-...)."""
    seen: dict[str, int] = {}
    out = []
    for d in dirs:
        k = d.resolve().name
        seen[k] = seen.get(k, 0) + 1
        out.append(k if seen[k] == 1 else f"{k}-{seen[k]}")
    return out


def _write_run(rw: RunWorks, root: Path) -> dict:
    folder = root / "works" / rw.key
    entries = []
    for w in rw.works:
        s = stem(w.latent)
        L.save_with_latents(w.image[None], [w.latent], folder, [s])
        vstems = [f"{s}-v{j}" for j in range(len(w.variations))]
        if w.variations:
            import torch

            L.save_with_latents(
                torch.stack([im for _, im in w.variations]), [v for v, _ in w.variations], folder, vstems
            )
        text, rows = caption(rw, w)
        entries.append(
            {
                "id": w.latent.id,
                "source": w.source,
                "image": f"works/{rw.key}/{s}.png",
                "latent": f"works/{rw.key}/{s}.json",
                "caption": text,
                "details": rows,
                "variations": [
                    {"id": v.id, "image": f"works/{rw.key}/{vs}.png", "latent": f"works/{rw.key}/{vs}.json"}
                    for (v, _), vs in zip(w.variations, vstems)
                ],
            }
        )
    cfg = rw.config
    c, h, wd = (int(x) for x in rw.works[0].image.shape) if rw.works else (0, 0, 0)
    return {
        "key": rw.key,
        "model": cfg.get("model"),
        "data": cfg.get("data", {}).get("name"),
        "preset": cfg.get("preset"),
        "step": rw.pipe.step,
        "image_shape": [c, h, wd],
        "remake": f"ganstudio generate {rw.run_dir} --from works/{rw.key}/<stem>.json --out-dir remade/",
        "works": entries,
    }


def _write_living(rw: RunWorks, root: Path, checkpoint: str) -> dict:
    from ..export import export_onnx

    res = export_onnx(rw.run_dir, root / "models" / f"{rw.key}.onnx", checkpoint=checkpoint)
    first: Work = rw.works[0]
    return {
        "model": f"models/{rw.key}.onnx",
        "meta": f"models/{rw.key}.json",
        "z_dim": rw.pipe.z_dim,
        "num_classes": res.meta["num_classes"],
        "condition": res.meta["condition"],  # "text": y is a prompt embedding, walked by slerp
        "inputs": res.meta["inputs"],
        "image_shape": res.meta["image_shape"],
        # (K, z_dim) inputs to G (truncation and edits applied) that the painting walks through, in a loop
        "keyframes": [[round(v, 6) for v in row] for row in rw.keyframes.tolist()],
        "classes": None if rw.keyframe_classes is None else rw.keyframe_classes.tolist(),
        "poster": f"works/{rw.key}/{stem(first.latent)}.png",
        "caption": f"{rw.key} · step {rw.pipe.step} · a walk through {len(rw.keyframes)} of its works"
        + (" and their prompts" if res.meta["condition"] == "text" else "")
        + " (living)",
        "parity_max_abs_diff": res.max_abs_diff,
    }


def describe(res: GalleryResult) -> str:
    return (
        f"gallery: {res.out}  ({res.n_works} works, {res.n_living} living, {res.size_bytes / 1e6:.1f} MB, "
        f"built in {res.seconds:.1f} s)"
    )


def manifest(out: str | Path) -> dict:
    """The manifest of a built gallery (for tests and the studio)."""
    return json.loads((Path(out) / "gallery.json").read_text())
