"""Custom django-prodserver backends: the worked examples of docs/guides/custom-backend.md.

The guide includes :mod:`customserver.backends` verbatim, so the code on the page is the code
that the tests run.
"""
