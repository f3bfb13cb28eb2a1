"""Make the repository root importable for the reporting tests (``support`` and ``helpers``).

Why: these tests import the sign-off reporting (``support.lifecycle.verdict``, ``summary_page`` ...) in-process
and also run behave in subprocesses with the same code; putting the root first keeps both on the working tree
even when the editable install is stale (it was made before ``support/`` existed).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
