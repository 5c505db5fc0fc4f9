"""Which upstreams answer, how fast, and what they offer; which one a run would use."""

import asyncio
import json

from django.core.management.base import BaseCommand, CommandError

from tokens.models import BotSettings, Upstream
from tokens.sources.checks import check_all
from tokens.sources.clients import resolve_upstream


class Command(BaseCommand):
    help = "Check the configured upstreams (pump.fun's web API, the Solana RPC and its websocket)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the report as JSON")

    def handle(self, *args, **options) -> None:
        reports = asyncio.run(check_all())
        choice = BotSettings.get_solo().upstream
        chosen = resolve_upstream(choice)
        usable = {Upstream.API: reports[0].reachable, Upstream.CHAIN: reports[1].reachable}
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "upstreams": [r.as_dict() for r in reports],
                        "setting": choice,
                        "a_run_would_use": chosen,
                        "usable": usable[chosen],
                    }
                )
            )
        else:
            for report in reports:
                self._print(report)
            self.stdout.write(f"A run would use: {chosen} (the admin's upstream setting is {choice})")
        if not any(usable.values()):
            raise CommandError("no upstream answers: no run could load anything")
        if not usable[chosen]:
            raise CommandError(f"the upstream a run would use ({chosen}) does not answer")

    def _print(self, report) -> None:
        state = "reachable" if report.reachable else ("not configured" if not report.configured else "NOT reachable")
        latency = f", {report.latency_ms:.0f} ms" if report.latency_ms is not None else ""
        self.stdout.write(f"{report.name} ({report.url}): {state}{latency}")
        if report.detail:
            self.stdout.write(f"  {report.detail}")
        for check in report.offers:
            self.stdout.write(f"  {'yes' if check.ok else 'no '}  {check.name}: {check.detail}")
