from django.urls import path

from tokens.board import api, trades_api, views

app_name = "tokens"

urlpatterns = [
    path("", views.board, name="board"),
    path("runs/", views.start_run, name="start-run"),
    path("runs/<int:run_id>/cancel/", views.cancel_run, name="cancel-run"),
    path("runs/<int:run_id>/resume/", views.resume_run, name="resume-run"),
    path("api/openapi.json", api.description, name="api-description"),
    path("api/changes/", api.changes, name="api-changes"),
    path("api/tokens/", api.tokens, name="api-tokens"),
    path("api/tokens/<str:mint>/", api.token_detail, name="api-token"),
    path("api/tokens/<str:mint>/trades/", trades_api.trades, name="api-token-trades"),
    path("api/tokens/<str:mint>/candles/", trades_api.candles, name="api-token-candles"),
    path("api/runs/", api.runs, name="api-runs"),
    path("api/runs/<int:run_id>/", api.run_detail, name="api-run"),
]
