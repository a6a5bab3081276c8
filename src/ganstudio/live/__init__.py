"""The live control bus: a run as a piece driven live by OSC, MIDI and the browser, with frames out.

``LiveSession(run, osc_port=9000, midi="...", osc_out="host:port")`` (``session``) or
``ganstudio live RUN``. The parts, each a small module:

- ``params``: the registry of live parameters (range, curve, slew, deadzone) of a run
- ``mapping``: input -> parameter mappings as JSON data (MIDI CCs and notes, extra OSC addresses)
- ``bus``: latest-value slots between the inputs and the frame loop, and the counters
- ``controls``: the one control grammar (``truncation``, ``dir/0/norm``, ``scene``, ``learn``, ...)
- ``osc``: the asyncio OSC server and the OSC event output; ``midi``: mido input and MIDI-learn;
  ``server``: the live page and its WebSocket (``ganstudio.webaccess``: the studio's Host/Origin/token rules)
- ``show``: the deterministic frame clock (state + events -> frame); ``walk``: the latent paths;
  ``renderer``: latent -> picture (PyTorch or onnxruntime)
- ``scenes``, ``recording`` (bit-exact replay), ``watchdog`` (attract mode), ``prompts``, ``frames``

Needs the ``live`` extra for OSC and MIDI, and the ``studio`` extra for the page:
``pip install 'ganstudio[live]'``.
"""

from __future__ import annotations

from .session import LiveSession

__all__ = ["LiveSession"]
