from django.urls import path

from tokens.consumers import BoardConsumer

websocket_urlpatterns = [path("ws/tokens/", BoardConsumer.as_asgi())]
