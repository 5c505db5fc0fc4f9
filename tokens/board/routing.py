from django.urls import path

from tokens.board.consumers import BoardConsumer

websocket_urlpatterns = [path("ws/tokens/", BoardConsumer.as_asgi())]
