"""The gallery's front-end files from npm: where they come from (``web/xr/node_modules``) and where they go.

Every file a gallery page loads is copied into the gallery folder, so it works offline on any static web
server and its Content-Security-Policy can allow only its own origin. Copied names end in ``.js``/``.wasm``
(not ``.mjs``): every server maps those to the types browsers require of module scripts and WebAssembly.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

# src/ganstudio/xr/assets.py -> the repository root (an editable install; GANSTUDIO_XR_NPM overrides it)
NPM_DIR = Path(__file__).resolve().parents[3] / "web" / "xr"


@dataclass(frozen=True)
class Asset:
    package: str  # npm package name
    src: str  # path inside the package
    dest: str  # path inside the gallery folder
    needed_for: str  # "page", "living" (ONNX in the browser) or "emulator" (iwer, ?emulate=1)


ASSETS: tuple[Asset, ...] = (
    Asset("three", "build/three.module.js", "vendor/three/three.module.js", "page"),
    Asset("three", "build/three.core.js", "vendor/three/three.core.js", "page"),
    Asset("three", "LICENSE", "vendor/three/LICENSE", "page"),
    Asset("three", "package.json", "vendor/three/package.json", "page"),
    # the "bundle" build carries its Emscripten glue inside: one module plus the .wasm, no dynamic .mjs import
    Asset("onnxruntime-web", "dist/ort.wasm.bundle.min.mjs", "vendor/ort/ort.bundle.js", "living"),
    Asset("onnxruntime-web", "dist/ort-wasm-simd-threaded.wasm", "vendor/ort/ort-wasm-simd-threaded.wasm", "living"),
    Asset("onnxruntime-web", "package.json", "vendor/ort/package.json", "living"),  # name, version, MIT licence
    Asset("iwer", "build/iwer.module.min.js", "vendor/iwer/iwer.module.js", "emulator"),
    Asset("iwer", "LICENSE", "vendor/iwer/LICENSE", "emulator"),
    Asset("iwer", "package.json", "vendor/iwer/package.json", "emulator"),
)


def npm_dir() -> Path:
    return Path(os.environ.get("GANSTUDIO_XR_NPM") or NPM_DIR)


def wanted(living: bool, emulator: bool) -> list[Asset]:
    keep = {"page"} | ({"living"} if living else set()) | ({"emulator"} if emulator else set())
    return [a for a in ASSETS if a.needed_for in keep]


def missing(assets: list[Asset]) -> list[str]:
    """The npm packages whose files are not installed."""
    root = npm_dir() / "node_modules"
    return sorted({a.package for a in assets if not (root / a.package / a.src).is_file()})


def check(assets: list[Asset]) -> Path:
    """The node_modules folder holding every asset, or a UserError saying how to install them."""
    root = npm_dir() / "node_modules"
    missing_ = missing(assets)
    if missing_:
        raise UserError(
            f"the gallery's front-end packages are missing ({', '.join(missing_)} in {root}): run `make npm` "
            f"(or `npm install --prefix {npm_dir()}`)"
        )
    return root


def copy(assets: list[Asset], root: Path, out: Path) -> None:
    for a in assets:
        dest = out / a.dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / a.package / a.src, dest)
