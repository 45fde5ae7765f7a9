"""Django app configuration: registers the ``PRODUCTION_PROCESSES`` system checks."""

from django.apps import AppConfig


class ProdserverConfig(AppConfig):
    name = "django_prodserver"
    verbose_name = "Django prodserver"

    def ready(self) -> None:
        from django_prodserver import checks  # noqa: F401  (registers the checks)
