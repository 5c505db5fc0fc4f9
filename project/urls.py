from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("tokens.board.urls")),
]

# JSON under /api/, the usual page elsewhere.
handler404 = "tokens.board.api.not_found"
