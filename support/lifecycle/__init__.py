"""The run's life cycle: the behave hooks (``run``), behavex's main process and workers, resolving and
starting the target, provisioning, results, the sign-off verdict and the reports written from it.

May import: every other package of ``support``. Steps import from here only what a hook set up for them.
"""
