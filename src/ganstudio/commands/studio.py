"""``ganstudio studio [RUNS_DIR]``: the local web studio."""

from __future__ import annotations

import argparse


def cmd_studio(a: argparse.Namespace) -> int:
    from ..errors import UserError

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401

        from ..studio import serve
    except ImportError as e:
        raise UserError(
            f"the studio needs its extra dependencies ({e.name} is missing): pip install 'ganstudio[studio]'"
        ) from None
    if not 0 < a.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {a.port}")
    if a.osc_port is not None:
        if not 0 <= a.osc_port < 65536:
            raise UserError(f"--osc-port must be between 0 and 65535, got {a.osc_port}")
        try:
            import pythonosc  # noqa: F401
        except ImportError:
            raise UserError("--osc-port needs python-osc: pip install 'ganstudio[live]'") from None
    serve(a.runs_dir, host=a.host, port=a.port, token=a.token, open_browser=a.open, osc_port=a.osc_port)
    return 0


def register(sub) -> None:
    s = sub.add_parser("studio", help="the web studio: train, create, explore, breed, animate, exhibit")
    s.add_argument("runs_dir", nargs="?", default="runs", help="folder holding the runs (default runs)")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only); any other address requires an access token",
    )
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--token", default=None, help="access token (made and printed when --host is not loopback)")
    s.add_argument("--open", action="store_true", help="open the studio in the web browser")
    s.add_argument(
        "--osc-port",
        type=int,
        default=None,
        help="listen for OSC on udp 127.0.0.1:PORT: /ganstudio/<param> value moves the Exhibition panel's show",
    )
    s.set_defaults(func=cmd_studio)
