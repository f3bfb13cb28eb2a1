"""The suite's library: settings, HTTP client, matchers, throwaway identities and hostile tokens.

Everything the behave steps need lives here so that steps stay thin and this code can be unit-tested
without a running target. This package knows nothing of behave internals and never imports the
embedded reference server: the only coupling between suite and server is the HTTP contract.
"""
