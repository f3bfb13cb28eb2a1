"""The API description the fuzzer uses when a deployment hides its own is the reference's current one.

`permiso-reference openapi` prints it without serving (a deployment that hides its description is never
asked); a change of the reference's routes without refreshing `support/data/permiso-openapi.json` fails
here, with the command that refreshes it.
"""

from __future__ import annotations

import json
from pathlib import Path

from permiso_reference.cli import main

SNAPSHOT = Path(__file__).resolve().parents[2] / "support" / "data" / "permiso-openapi.json"


def test_the_suites_copy_of_the_schema_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "openapi.json"
    assert main(["openapi", "--output", str(fresh)]) == 0
    assert json.loads(fresh.read_text(encoding="utf-8")) == json.loads(SNAPSHOT.read_text(encoding="utf-8")), \
        "refresh it: permiso-reference openapi --output support/data/permiso-openapi.json"
