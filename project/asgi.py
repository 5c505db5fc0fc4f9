import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the apps loaded)
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from tokens.board.routing import websocket_urlpatterns  # noqa: E402
from tokens.board.ws_guard import BoardSocketGuard  # noqa: E402
from tokens.live.messages import LOADER_CHANNEL  # noqa: E402
from tokens.runs import server  # noqa: E402
from tokens.runs.channel_worker import LoaderWorker  # noqa: E402
from tokens.runs.warm import warm_up  # noqa: E402

warm_up()  # this process executes runs (a Load, a takeover, the embedded feed): ready before the first

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BoardSocketGuard(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        "channel": ChannelNameRouter({LOADER_CHANNEL: LoaderWorker.as_asgi()}),
    }
)

if settings.FOLLOW_LAUNCHES == "web":
    # The always-on feed of new launches runs inside this one web process (the embedded default).
    application = server.FollowerStarter(application)
    server.start_follower_with_server()
