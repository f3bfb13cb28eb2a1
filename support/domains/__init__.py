"""Domain helpers, one module per domain the features have: administration, security (the run-wide
hygiene watch and hostile input), tokens, account states, isolation, allow-lists, the API documentation,
performance budgets and the load engine, generated input (Schemathesis), containers.

May import: ``support.wire``, ``support.checks``, ``support.people``; never the run's life cycle.
"""
