"""Start the studio in this process for a benchmark: uvicorn on 127.0.0.1, a free port, a daemon thread.

from studio_server import serve
base, server = serve(runs_dir)   # "http://127.0.0.1:PORT" once it accepts requests; the uvicorn.Server
...
server.should_exit = True        # stop it
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path


def serve(runs: str | Path):
    import uvicorn

    from ganstudio.studio import create_app

    app = create_app(runs)
    with socket.socket() as s:  # ask the OS for a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", srv
