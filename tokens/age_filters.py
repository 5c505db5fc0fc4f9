"""The named age windows a user can pick, and the window length each stands for."""

from django.db import models

MIN_DAYS = 1
MAX_DAYS = 365


class AgeFilter(models.TextChoices):
    NEW_ONLY = "new_only", "New only (last hour)"
    LAST_1_DAY = "last_1_day", "Last 1 day"
    LAST_3_DAYS = "last_3_days", "Last 3 days"
    LAST_7_DAYS = "last_7_days", "Last 7 days"
    LAST_14_DAYS = "last_14_days", "Last 14 days"
    LAST_30_DAYS = "last_30_days", "Last 30 days"
    CUSTOM_DAYS = "custom_days", "Custom number of days"


_FIXED_DAYS: dict[str, float] = {
    AgeFilter.NEW_ONLY: 1 / 24,
    AgeFilter.LAST_1_DAY: 1,
    AgeFilter.LAST_3_DAYS: 3,
    AgeFilter.LAST_7_DAYS: 7,
    AgeFilter.LAST_14_DAYS: 14,
    AgeFilter.LAST_30_DAYS: 30,
}


def window_days(age_filter: str, *, custom_days: int | None = None) -> float:
    """Length of the window, in days, that an age filter selects."""
    if age_filter == AgeFilter.CUSTOM_DAYS:
        if custom_days is None or not MIN_DAYS <= custom_days <= MAX_DAYS:
            raise ValueError(f"custom_days must be from {MIN_DAYS} to {MAX_DAYS}, got {custom_days!r}")
        return float(custom_days)
    try:
        return _FIXED_DAYS[age_filter]
    except KeyError:
        names = ", ".join(AgeFilter.values)
        raise ValueError(f"unknown age filter {age_filter!r}; choose one of: {names}") from None


def window_label(days: float) -> str:
    """A window's length as people write it: 7 d, 12 h, 1 h, 30 min (not 0.0416667 days)."""
    minutes = round(days * 1440)
    if minutes >= 1440 and minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes >= 60 and minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"
