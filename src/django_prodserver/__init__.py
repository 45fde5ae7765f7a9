"""Start any production web server or background worker from ``manage.py prodserver``."""

__version__ = "0.1.0"
