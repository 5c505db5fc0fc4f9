from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "pump.fun tokens"

    def ready(self) -> None:
        from tokens import checks  # noqa: F401  (registers the system checks)
