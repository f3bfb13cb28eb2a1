"""The operator tools of ``permiso-acceptance``: ``load`` (Locust against a target), ``sensitivity``
(does the suite catch each injectable fault?), ``report`` (the Allure report) and ``baseline`` (the
sign-off baseline and waivers).

May import: ``support`` (the library the suite runs on). Nothing in ``support`` or ``features`` imports
this package: the suite runs without its tools.
"""
