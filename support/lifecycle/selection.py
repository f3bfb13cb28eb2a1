"""What the run selects: counting the scenarios a tag selection picks, and leaving ``@fuzz`` out unless asked.

A module of its own because both the behave hooks (``run``) and behavex's main process (``parallel``) judge
"nothing selected" by it, and neither may import the other.
"""

from __future__ import annotations

import contextlib
from typing import Any

from support.wire.settings import Settings


def all_scenarios(context: Any) -> int | None:
    """How many scenarios the features behave read hold (selected or not), or None when unknown."""
    runner = getattr(context, "_runner", None)
    features = getattr(runner, "features", None)
    if features is None:
        return None
    try:
        return sum(1 for f in features for _ in f.walk_scenarios())
    except Exception:
        return None


def selected_scenarios(context: Any) -> int | None:
    """How many scenarios the tag/name selection picks, or None when behave does not tell us.

    Counting before the target starts lets a misspelled tag fail in a fraction of a second instead of
    after a server start; after_all still checks what really ran.
    """
    runner = getattr(context, "_runner", None)
    features = getattr(runner, "features", None)
    if features is None:
        return None
    try:
        return sum(1 for f in features for s in f.walk_scenarios() if s.should_run(context.config))
    except Exception:
        return None


NOTHING_SELECTED = (
    "no scenario matched this selection (check the spelling of --tags and the paths given); "
    "a run that checks nothing must not pass"
)


FUZZ_TAG = "fuzz"


FUZZ_HINT = "; the @fuzz scenarios run only with --tags=@fuzz or PERMISO_FUZZ_EXAMPLES set"


def fuzz_selected(config: Any, settings: Settings) -> bool:
    """The generated-input scenarios (``@fuzz``) take minutes, so a run includes them only when asked:
    its tag expression names them, or ``PERMISO_FUZZ_EXAMPLES`` is set (docs/fuzzing.md). Whatever
    tag expression was given still decides among the scenarios it selects."""
    if getattr(settings, "permiso_fuzz_examples", None) is not None:
        return True
    tags = getattr(config, "tags", None)
    text = " ".join(map(str, tags)) if isinstance(tags, list | tuple) else str(tags or "")
    return FUZZ_TAG in text


class _WithoutTag:
    """A behave tag expression that also leaves out one tag (everything else is the original's)."""

    def __init__(self, inner: Any, tag: str) -> None:
        self.inner, self.tag = inner, tag

    def check(self, tags: Any) -> bool:
        return self.tag not in {str(t).lstrip("@") for t in tags or ()} and self.inner.check(tags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def leave_out_fuzz(config: Any) -> None:
    """Make the run's selection leave out the ``@fuzz`` scenarios (as if ``and not @fuzz`` were given)."""
    expression = getattr(config, "tag_expression", None)
    if expression is not None and not isinstance(expression, _WithoutTag):
        config.tag_expression = _WithoutTag(expression, FUZZ_TAG)


def mark_deselected_skipped(context: Any) -> None:
    """Mark every scenario the selection leaves out as skipped before the run starts.

    behave marks a left-out scenario skipped only when its feature is reached; an interrupted run leaves
    those of the features it never reached *untested*, and the summary (which counts them as not
    selected, hence skipped) would disagree with behave's own line. Marking them up front makes both say
    skipped, whether the run ends or is cut short.
    """
    runner = getattr(context, "_runner", None)
    for feature in getattr(runner, "features", None) or []:
        for scenario in feature.walk_scenarios():
            with contextlib.suppress(Exception):
                if not scenario.should_run(context.config):
                    scenario.mark_skipped()
