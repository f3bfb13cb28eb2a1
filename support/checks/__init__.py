"""Judging answers: hamcrest matchers over the client's answers, the catalogue of known defects and
refused preconditions (causes), and the statistics of response times.

May import: ``support.wire``.
"""
