"""The web studio: ``ganstudio studio [RUNS_DIR]`` or ``ganstudio.studio.serve(runs_dir)``.

FastAPI app (``app.create_app``), request models (``schemas``), SQLite store (``store``), training
subprocesses (``jobs``), safe uploads (``uploads``) and the static page (``static/``).
Needs the ``studio`` extra: ``pip install 'ganstudio[studio]'``.
"""
from __future__ import annotations


def create_app(*args, **kwargs):
    from .app import create_app as _create

    return _create(*args, **kwargs)


def serve(*args, **kwargs) -> None:
    from .app import serve as _serve

    _serve(*args, **kwargs)


__all__ = ["create_app", "serve"]
