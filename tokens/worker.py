"""`manage.py runworker token-loader`: executes the runs handed to it over the channel layer."""

from typing import Any

from channels.consumer import AsyncConsumer

from tokens import runner


class LoaderWorker(AsyncConsumer):
    async def __call__(self, scope, receive, send):
        runner.start_run_watch()  # a worker also watches for runs whose process died
        return await super().__call__(scope, receive, send)

    async def run_start(self, message: dict[str, Any]) -> None:
        # A task, not an await: the worker keeps taking runs (of other sources) while one goes on.
        runner.start_in_server(run_id=message["run_id"], resume=bool(message.get("resume")))
