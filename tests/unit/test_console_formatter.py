"""The console formatter on a tiny project: every kind of step outcome, shown once and readably."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FEATURE = """\
@x
Feature: Mini
  A description line.

  Background:
    Given a step

  Scenario: Passes
    Then another step
      | a | bb |
      | 1 | 2  |

  Scenario: Fails on an assertion
    Then it fails
    And another step

  Scenario: Breaks the suite
    Then it breaks

  Scenario: Undefined
    Then nothing matches this

  @skipme
  Scenario: Skipped with a reason
    Then another step

  Scenario: Hook error in after_step
    Then the hook fails after it
"""

STEPS = """\
from behave import given, then

@given("a step")
def a(c): pass

@then("another step")
def b(c): pass

@then("it fails")
def f(c):
    print("the exchange: POST /x -> 500")
    assert 1 == 2, "Expected: 200\\n     but: was 500"

@then("it breaks")
def e(c):
    {}["missing"]

@then("the hook fails after it")
def h(c):
    c.fail_hook = True
"""

ENVIRONMENT = """\
def before_scenario(c, s):
    if "skipme" in s.tags:
        s.skip("needs docker: no engine")

def after_step(c, step):
    if getattr(c, "fail_hook", False):
        c.fail_hook = False
        raise AssertionError("answers seen during this step break the hygiene rules:\\n  - POST /x -> 200: no HSTS")
"""


def _run(tmp_path: Path, *extra: str) -> str:
    (tmp_path / "features" / "steps").mkdir(parents=True)
    (tmp_path / "features" / "mini.feature").write_text(FEATURE)
    (tmp_path / "features" / "steps" / "steps.py").write_text(STEPS)
    (tmp_path / "features" / "environment.py").write_text(ENVIRONMENT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "behave", "-f", "support.lifecycle.console:ConsoleFormatter", "--junit",
         "--junit-directory", str(tmp_path / "junit"), *extra, "features"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    return proc.stdout


def test_each_outcome_is_shown_once_and_readably(tmp_path: Path) -> None:
    out = _run(tmp_path)
    expected = textwrap.dedent("""\
        @x
        [1/1] Feature: Mini  # features/mini.feature:2
          A description line.

          Scenario: Passes  # features/mini.feature:8
            Given a step ... passed
            Then another step ... passed
              | a | bb |
              | 1 | 2  |

          Scenario: Fails on an assertion  # features/mini.feature:13
            Given a step ... passed
            Then it fails ... failed
              Expected: 200
                   but: was 500
              the exchange: POST /x -> 500
            And another step ... skipped
        """)
    plain = re.sub(r" in \d+\.\d+s", "", out)
    assert expected in plain, plain
    # the suite broke (not an assertion): the traceback says where
    assert "Then it breaks ... error" in plain and "KeyError: 'missing'" in plain and "Traceback" in plain
    assert "    Then nothing matches this ... undefined\n      no step definition matches this step" in plain
    skipped = "  Scenario: Skipped with a reason  # features/mini.feature:24\n    skipped: needs docker: no engine"
    assert skipped in plain
    # an after_step hook's complaint, complete (behave's own per-step capture cuts its start off)
    assert ("    Then the hook fails after it ... hook_error\n      HOOK-ERROR in after_step: AssertionError: answers "
            "seen during this step break the hygiene rules:\n        - POST /x -> 200: no HSTS") in plain
    assert plain.count("Expected: 200") == 1 and plain.count("HOOK-ERROR in after_step") == 1
    assert "\x1b[" not in out


def test_colour_is_on_when_asked_and_never_moves_the_cursor(tmp_path: Path) -> None:
    out = _run(tmp_path, "--color=always")
    assert "\x1b[32m    Given a step ... passed" in out
    assert "\x1b[1A" not in out
