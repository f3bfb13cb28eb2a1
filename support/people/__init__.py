"""Who acts in a scenario: throwaway identities (made, tracked and always removed), the pool that lends
non-destructive scenarios people made once per run, actors with their devices, and the flows they go
through (signing in, guessing wrongly, waiting for a lock to lift).

May import: ``support.wire``, ``support.checks``.
"""
