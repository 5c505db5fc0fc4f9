"""System checks: a bad HISTORICAL_BATCH_SIZE is reported by `manage.py check`, `migrate` and friends."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from tokens.bot_settings import env_batch_size


@checks.register()
def check_batch_size_env(app_configs, **kwargs) -> list[checks.CheckMessage]:
    try:
        env_batch_size()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint="Unset it or give a whole number.", id="tokens.E001")]
    return []
