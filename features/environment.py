"""behave hooks. Each hook only delegates to `support.lifecycle.run` (which is unit-tested on its own)."""

from __future__ import annotations

from support.lifecycle import parallel, run, worker

# behavex executes this file once per feature: what needs doing once per process is done once.
worker.lighten_feature_runs()


def before_all(context):
    run.before_all(context)


def before_feature(context, feature):
    run.before_feature(context, feature)


def before_scenario(context, scenario):
    run.before_scenario(context, scenario)


def after_step(context, step):
    run.after_step(context, step)


def after_scenario(context, scenario):
    run.after_scenario(context, scenario)


def after_feature(context, feature):
    run.after_feature(context, feature)


def after_all(context):
    run.after_all(context)


# behavex only (`behavex --parallel-processes N --parallel-scheme feature`): once per run, in its main
# process, around all workers. Plain behave never calls these.
def before_all_workers(context):
    parallel.before_all_workers(context)


def after_all_workers(context):
    parallel.after_all_workers(context)
