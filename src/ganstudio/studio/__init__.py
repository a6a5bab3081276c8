"""The web studio: ``ganstudio studio [RUNS_DIR]`` or ``ganstudio.studio.serve(runs_dir)``.

The web side: ``app.create_app`` assembles the FastAPI app from ``security`` (``ganstudio.webaccess``'s
Host, Origin and token checks), ``errors`` (one-line JSON errors) and ``routes/`` (one router per
panel, each route only translating HTTP or a WebSocket), over the request models of ``schemas``.

The library side, which the routes call (no HTTP in it): ``state.Studio`` holds the parts;
``run_index`` (the cached run listing), ``catalog`` (run summaries, metrics, ETAs), ``engine``
(models, directions, latents -> pictures), ``gallery`` (pictures shown, rated, bred, stored),
``creative_bridge`` (calls into ``ganstudio.creative``), ``tasks`` (animation renders), ``exhibition``
(the Exhibition panel's shows: ``ganstudio.live`` sessions over the favourites), ``jobs``
(training subprocesses, configs from ``training.options.build_run_config``), ``uploads`` (checked
pictures from the browser) and ``store`` (SQLite). The page is ``static/``: ``index.html`` and
native ES modules under ``static/js/`` (no build step).
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
