"""``ganstudio live RUN``: the run as a live piece, driven by OSC, MIDI and the browser (``ganstudio.live``)."""

from __future__ import annotations

import argparse

from ..argtypes import nonneg_float, port, positive_float, positive_int


def cmd_live(a: argparse.Namespace) -> int:
    from ..errors import UserError
    from ..runs import require_run

    require_run(a.run_dir)
    if a.replay:
        return _replay(a)
    try:
        import pythonosc  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise UserError(
            f"ganstudio live needs its extra dependencies ({e.name} is missing): pip install 'ganstudio[live]'"
        ) from None
    import torch

    from .. import webaccess
    from ..live import server
    from ..live.mapping import load_mapping
    from ..live.osc import bind_udp, parse_hostport

    if a.osc_out:
        parse_hostport(a.osc_out)
    from pathlib import Path

    mapping_file = Path(a.mapping) if a.mapping else Path(a.run_dir) / "live" / "mapping.json"
    mapping = load_mapping(mapping_file) if a.mapping or mapping_file.is_file() else None
    token = a.token
    if token is None and (webaccess.needs_token(a.host) or webaccess.needs_token(a.osc_host)):
        token = webaccess.make_token()
    http = server.bind_tcp(a.host, a.port)
    osc = None
    try:
        osc = bind_udp(a.osc_host, a.osc_port, "OSC")
        torch.set_num_threads(a.threads)
        from ..live import LiveSession

        session = LiveSession(
            a.run_dir,
            checkpoint=a.checkpoint,
            backend=a.backend,
            threads=a.threads,
            fps=a.fps,
            mapping=mapping,
            mapping_out=mapping_file,
            osc_host=a.osc_host,
            osc_sock=osc,
            osc_out=a.osc_out,
            midi=a.midi,
            token=token,
            attract_after=a.attract_after,
            scenes=a.scenes,
            directions=a.directions,
        )
    except BaseException:
        http.close()
        if osc is not None:
            osc.close()
        raise
    host = a.host if a.host not in ("0.0.0.0", "::") else "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{http.getsockname()[1]}/" + (
        f"?token={token}" if token and webaccess.needs_token(a.host) else ""
    )
    osc_host, osc_port = session.osc_in.address if session.osc_in else (a.osc_host, a.osc_port)
    prefix = f"/ganstudio/{token}/" if session.token and webaccess.needs_token(a.osc_host) else "/ganstudio/"
    n = len(session.registry)
    print(f"ganstudio live: {url}  (press c for controls, f for full screen; Ctrl-C stops)", flush=True)
    print(
        f"  OSC in:  udp {osc_host}:{osc_port}  {prefix}<param> value  ({n} parameters: {', '.join(session.registry.names()[:8])}, ...)"
    )
    if a.osc_out:
        print(f"  OSC out: {a.osc_out}  /ganstudio/frame, /ganstudio/loop, /ganstudio/scene, /ganstudio/mode")
    if session.midi is not None:
        print(f"  MIDI:    {session.midi.name}  (MIDI-learn saves to {mapping_file})")
    if a.record:
        session.start_recording()
    session.start()
    try:
        server.serve(session, http, a.host, token if webaccess.needs_token(a.host) else None)
    except KeyboardInterrupt:
        pass
    finally:
        session.stop()
        if a.record:
            session.stop_recording(a.record)
            print(f"recorded: {a.record}")
    return 0


def _replay(a: argparse.Namespace) -> int:
    from ..errors import UserError
    from ..live.recording import load_recording, replay
    from ..live.renderer import make_renderer
    from ..live.session import find_directions
    from ..media_video import to_rgb_frames, write_frames
    from ..pipeline import load

    if not a.out:
        raise UserError("--replay needs --out (a .mp4, a .gif or a folder for PNG frames)")
    rec = load_recording(a.replay)
    import numpy as np

    pipe = load(a.run_dir, checkpoint=rec.step if a.checkpoint == "latest" else a.checkpoint)
    n_dirs = sum(1 for p in rec.params if p.get("group") == "directions")
    dirs = find_directions(a.run_dir, pipe, n_dirs) if rec.directions else None
    renderer = make_renderer(rec.backend, pipe, dirs, a.threads)
    frames = np.stack([f.image for f in replay(rec, pipe, renderer, dirs)])  # (T, H, W, C)
    path = write_frames(to_rgb_frames(frames.transpose(0, 3, 1, 2)), a.out, fps=rec.fps)
    print(f"wrote {path} ({len(frames)} frames at {rec.fps:g} fps)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("live", help="a run as a live piece: OSC, MIDI and browser control, full-screen output")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--osc-port", type=port, default=9000, help="UDP port for OSC input (default 9000; 0: any free)")
    p.add_argument(
        "--osc-host",
        default="127.0.0.1",
        help="address OSC listens on (default 127.0.0.1, this machine only); any other needs the access token",
    )
    p.add_argument(
        "--osc-out", default=None, metavar="HOST:PORT", help="send OSC events (frame, loop, scene, mode) here"
    )
    p.add_argument("--midi", default=None, metavar="PORT_NAME", help="a MIDI input port (needs python-rtmidi)")
    p.add_argument(
        "--mapping", default=None, metavar="FILE.json", help="input -> parameter mapping (MIDI-learn saves here)"
    )
    p.add_argument("--port", type=port, default=8765, help="HTTP port of the live page (default 8765; 0: any free)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address of the live page (default 127.0.0.1); others need the token"
    )
    p.add_argument("--token", default=None, help="access token (made and printed when a host is not loopback)")
    p.add_argument("--fps", type=positive_float, default=30.0, help="frame clock (default 30 frames per second)")
    p.add_argument(
        "--backend", choices=["torch", "onnx"], default="torch", help="torch (default) or onnx (onnxruntime)"
    )
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads for the generator (default 1: batch 1)")
    p.add_argument(
        "--attract-after",
        type=nonneg_float,
        default=60.0,
        metavar="SECONDS",
        help="attract mode after this much silence (0: never)",
    )
    p.add_argument("--directions", type=int, default=8, metavar="N", help="direction sliders (default 8)")
    p.add_argument("--scenes", default=None, metavar="DIR", help="scene folder (default RUN/live/scenes)")
    p.add_argument("--record", default=None, metavar="FILE.json", help="record the control stream; written on exit")
    p.add_argument(
        "--replay", default=None, metavar="FILE.json", help="render a recorded show again, frame for frame (with --out)"
    )
    p.add_argument("--out", default=None, help="with --replay: a .mp4, .gif or folder")
    p.add_argument("--checkpoint", default="latest", help="latest, best, a step number or a checkpoint folder")
    p.set_defaults(func=cmd_live)
