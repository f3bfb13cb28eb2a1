"""Talking to the target: settings, the timed ``PermisoClient``, pacing under the front's limits, secret
redaction, the administrator's one sign-in per run and hand-made tokens.

May import: the standard library and third-party packages only, nothing else of ``support``.
"""
