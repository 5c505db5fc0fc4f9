"""Where a run executes: a loader worker when the deployment has them, else this web process."""

from channels.layers import get_channel_layer
from django.conf import settings

from tokens import runner
from tokens.messages import LOADER_CHANNEL, run_start_message


async def dispatch_run(*, run_id: int, resume: bool = False) -> None:
    if settings.LOADER_WORKERS:
        await get_channel_layer().send(LOADER_CHANNEL, run_start_message(run_id=run_id, resume=resume))
    else:
        runner.start_in_server(run_id=run_id, resume=resume)
