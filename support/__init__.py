"""The suite's library: everything the behave steps and hooks use, and nothing an operator tool needs alone.

Layers, each importing only the ones above it (tests/unit/test_layout.py checks it, with no import cycle
between modules and no module over 500 lines):

- ``support.wire``: talking to the target - settings, the timed HTTP client, pacing, redaction, the
  administrator's one sign-in, hand-made tokens.
- ``support.checks``: judging answers - hamcrest matchers, the known-defect and precondition causes,
  timing statistics.
- ``support.people``: who acts - throwaway identities with guaranteed cleanup, the people pool, actors
  and the flows they go through.
- ``support.domains``: one module per domain the features have (administration, security, tokens,
  account states, performance and load, generated input, containers ...).
- ``support.lifecycle``: the run's life cycle - behave hooks, behavex workers, the target and its
  provisioning, results, the sign-off summary and its reports.

The operator tools (``permiso-acceptance load|sensitivity|report|baseline``) live in
``permiso_acceptance``, which may import this package; nothing here imports it. This package knows
nothing of the embedded reference server's internals: the only coupling is the HTTP contract.
"""
