"""The always-on feed of new launches, as its own process (production) until stopped."""

import asyncio

from django.core.management.base import BaseCommand, CommandError

from tokens.management.commands.load_historical_tokens import _until_sigterm
from tokens.runs.feed import FollowerRunning, follow_launches


class Command(BaseCommand):
    help = (
        "Follow new pump.fun launches for every reader: the chain's tail with SOLANA_RPC_URL, else the web API's "
        "newest page. Continues from the previous feed's position; Ctrl-C or SIGTERM stops it."
    )

    def handle(self, *args, **options) -> None:
        try:
            run = asyncio.run(_until_sigterm(follow_launches()))
        except FollowerRunning as exc:
            raise CommandError(str(exc)) from None
        except (KeyboardInterrupt, asyncio.CancelledError):
            self.stdout.write("Stopped following new launches; the next start continues from here.")
            return
        self.stdout.write(f"Run {run.pk} {run.status}: a person stopped the feed.")
