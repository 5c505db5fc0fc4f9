"""Reads the page and the API share."""

from django.db.models import QuerySet

from tokens.models import LoadRun, Token

PAGE_SIZE = 50
MAX_API_LIMIT = 200


def board_tokens() -> QuerySet[Token]:
    """Tokens that passed the filters, newest launch first."""
    return Token.objects.filter(passed_filters=True).order_by("-created_at", "mint")


def recent_runs(*, limit: int = 10) -> list[LoadRun]:
    return list(LoadRun.objects.order_by("-created_at", "-pk")[:limit])
