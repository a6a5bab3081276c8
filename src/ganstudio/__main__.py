"""``python -m ganstudio`` (and ``torchrun -m ganstudio``) = the ``ganstudio`` command."""

from .cli import entry

entry()
