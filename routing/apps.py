from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from routing import checks, signals  # noqa: F401  (registers checks and cache invalidation)
