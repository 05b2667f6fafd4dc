from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Anthropic API"

    def ready(self) -> None:
        from api.accounting.logs import install_scrubbing

        install_scrubbing()
