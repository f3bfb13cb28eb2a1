"""behave hooks. Each hook only delegates to `support.run` (which is unit-tested on its own)."""

from __future__ import annotations

from support import run


def before_all(context):
    run.before_all(context)


def before_feature(context, feature):
    run.before_feature(context, feature)


def before_scenario(context, scenario):
    run.before_scenario(context, scenario)


def after_scenario(context, scenario):
    run.after_scenario(context, scenario)


def after_feature(context, feature):
    run.after_feature(context, feature)


def after_all(context):
    run.after_all(context)
