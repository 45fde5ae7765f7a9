"""Sphinx configuration (placeholder until the documentation issue lands)."""

project = "django-prodserver"
extensions = ["myst_parser"]
html_theme = "furo"
