import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

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
        # No session or user: the board's socket is the same for every reader and sends nothing
        # private. Channels' session middleware also wraps every send to save the session, which was
        # a fifth of a web process's time writing a batch to a thousand pages.
        "websocket": BoardSocketGuard(URLRouter(websocket_urlpatterns)),
        "channel": ChannelNameRouter({LOADER_CHANNEL: LoaderWorker.as_asgi()}),
    }
)

if settings.FOLLOW_LAUNCHES == "web":
    # The always-on feed of new launches runs inside this one web process (the embedded default).
    application = server.FollowerStarter(application)
    server.start_follower_with_server()
