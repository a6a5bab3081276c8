"""``python -m ganstudio`` (and ``torchrun -m ganstudio``) = the ``ganstudio`` command."""

import sys

from .cli import main

sys.exit(main())
