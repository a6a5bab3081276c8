"""A WebXR gallery of runs' works: ``ganstudio exhibit RUN... --xr --out gallery/`` (static, served locally).

``build_gallery(runs, out)`` writes one self-contained folder: framed works (a run's studio favourites,
then curated samples) captioned with their provenance, a few variations of each, "living paintings" that
walk their latent space in the browser (the generator exported to ONNX, run by onnxruntime-web in a worker),
AR placement by hit-test and a plain 3D fallback; three.js, onnxruntime-web and the iwer emulator are copied
from ``web/xr/node_modules`` into it, so nothing is fetched from another origin. Modules:

- ``assets``: which npm files are copied where (and the "run `make npm`" check)
- ``favourites``: a run's liked pictures, read (read-only) from the studio's store
- ``works``: choosing, rendering and captioning the works and their variations
- ``build``: checks, then the folder written whole (``GalleryResult``)
"""

from .build import GalleryResult, build_gallery

__all__ = ["GalleryResult", "build_gallery"]
