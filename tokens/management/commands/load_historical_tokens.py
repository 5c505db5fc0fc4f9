"""Load the last N days of pump.fun launches in batches, with a progress bar on a terminal."""

import asyncio
import json
import logging
import signal
import sys
from contextlib import contextmanager

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from tokens.age_filters import AgeFilter
from tokens.live.messages import run_payload
from tokens.models import BotSettings, LoadRun, Source
from tokens.runs.dispatch import dispatch_run
from tokens.runs.loader import RunNotClaimable, execute_claimed, execute_run
from tokens.runs.requests import RunConflict, RunParameterError, check_resumable, create_run, plan_run, request_cancel
from tokens.runs.warm import warm_up

_UPSTREAM_NAMES = {"chain": "Solana chain", "api": "pump.fun web API"}


class Command(BaseCommand):
    help = "Load pump.fun token history in batches, store every batch and stream it to connected pages."

    def add_arguments(self, parser) -> None:
        window = parser.add_mutually_exclusive_group()
        window.add_argument("--days", help="Window length in whole days (1-365)")
        window.add_argument("--age-filter", help=f"A named window: {', '.join(AgeFilter.values)}")
        parser.add_argument("--batch-size", help="Tokens per batch (1-500); default: settings or HISTORICAL_BATCH_SIZE")
        parser.add_argument("--source", help=f"{', '.join(Source.values)} (default: hybrid)")
        parser.add_argument(
            "--upstream",
            help="auto (the chain when SOLANA_RPC_URL is set, else the web API), chain or api; "
            "default: the admin setting",
        )
        parser.add_argument(
            "--resume", metavar="RUN_ID", type=int, help="Continue an interrupted, failed or cancelled run"
        )
        parser.add_argument(
            "--cancel",
            metavar="RUN_ID",
            type=int,
            help="Stop a run: a queued one at once, a running one at its next batch (wherever it runs)",
        )
        parser.add_argument(
            "--enqueue", action="store_true", help="Hand the run to a loader worker (needs REDIS_URL) and exit"
        )
        parser.add_argument(
            "--follow", action="store_true", help="After the backfill, keep streaming new launches until stopped"
        )
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="Return once the rows are stored; their details (holders, metadata, market caps) are left to "
            "a running server or `manage.py fetch_details`",
        )
        parser.add_argument("--json", action="store_true", help="Print a one-line JSON summary for scripts")

    def handle(self, *args, **options) -> None:
        if options["cancel"] is not None:
            self._cancel(options)
            return
        resume = options["resume"] is not None
        if options["enqueue"] and not settings.LOADER_WORKERS:
            raise CommandError("--enqueue needs loader workers: set REDIS_URL and run `manage.py run_loader`")
        run = self._resumable_run(options) if resume else self._create_run(options, claimed=not options["enqueue"])
        if options["enqueue"]:
            note = async_to_sync(dispatch_run)(run_id=run.pk, resume=resume)
            self._say(options, f"Run {run.pk} {note}; follow it at /api/runs/{run.pk}/")
            if options["json"]:
                self.stdout.write(json.dumps({"run_id": run.pk, "status": "queued"}))
            return
        warm_up()
        on_terminal = sys.stderr.isatty()
        verb = "resuming" if resume else "loading"
        self._say(
            options,
            f"Run {run.pk}: {verb} {run.source} from the {_UPSTREAM_NAMES[run.upstream]}, last {run.days:g} days, "
            f"batches of {run.batch_size}",
        )
        with (
            _ProgressBar(enabled=on_terminal) as bar,
            _command_logging(on_terminal=on_terminal, verbosity=options["verbosity"]),
        ):
            try:
                final = asyncio.run(
                    _until_sigterm(
                        _execute(run, resume=resume, on_progress=bar.update, wait_for_details=not options["no_wait"])
                    )
                )
            except (KeyboardInterrupt, asyncio.CancelledError):
                final = LoadRun.objects.get(pk=run.pk)
                if final.status != LoadRun.Status.SUCCEEDED:  # a stopped tail succeeded; a backfill did not
                    raise CommandError(
                        f"run {run.pk} interrupted; its stored batches are kept. "
                        f"Continue it with: manage.py load_historical_tokens --resume {run.pk}"
                    ) from None
            except RunNotClaimable as exc:
                raise CommandError(str(exc)) from None
            bar.finish(final)
        self._say(
            options,
            f"Run {final.pk} {final.status}: {final.fetched} fetched, {final.accepted} accepted, "
            f"{final.rejected} rejected, {final.invalid} invalid, {final.failed} failed, {final.batches} batches, "
            f"details {final.details_done} of {final.details_queued}",
        )
        if final.warning:
            self.stderr.write(f"Warning: {final.warning}")
        if options["json"]:
            self.stdout.write(json.dumps(_summary(final)))
        if final.status != LoadRun.Status.SUCCEEDED:
            raise CommandError(f"run {final.pk} {final.status}: {final.error or 'no reason recorded'}")

    def _say(self, options, line: str) -> None:
        """Human lines; with --json, standard output carries only the JSON summary."""
        if not options["json"]:
            self.stdout.write(line)

    def _cancel(self, options) -> None:
        run_id = options["cancel"]
        before = LoadRun.objects.filter(pk=run_id).first()
        if before is None:
            raise CommandError(f"there is no run {run_id}")
        if not before.is_active:
            raise CommandError(f"run {run_id} is {before.status}; only queued or running runs can be cancelled")
        run = request_cancel(run_id=run_id)
        if run.status == LoadRun.Status.CANCELLED:
            self._say(options, f"Run {run.pk} cancelled.")
        else:
            self._say(options, f"Run {run.pk}: stop requested; it stops at its next batch (a tail within a second).")
        if options["json"]:
            self.stdout.write(json.dumps(_summary(run)))

    def _resumable_run(self, options) -> LoadRun:
        given = [
            name for name in ("days", "age_filter", "batch_size", "source", "upstream") if options[name] is not None
        ]
        given += ["follow"] if options["follow"] else []
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise CommandError(f"--resume continues a run with its own parameters; drop {flags}")
        try:
            return check_resumable(run_id=options["resume"])
        except (RunParameterError, RunConflict) as exc:
            raise CommandError(str(exc)) from None

    def _create_run(self, options, *, claimed: bool) -> LoadRun:
        for name in ("days", "batch_size", "age_filter", "source", "upstream"):
            if options[name] is not None and not options[name].strip():
                raise CommandError(f"--{name.replace('_', '-')} was given without a value")
        try:
            plan = plan_run(
                stored=BotSettings.get_solo(),
                days=options["days"],
                age_filter=options["age_filter"],
                batch_size=options["batch_size"],
                source=options["source"],
                follow=options["follow"],
                upstream=options["upstream"],
            )
            return create_run(plan=plan, origin=LoadRun.Origin.COMMAND, claimed=claimed)
        except (RunParameterError, RunConflict, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from None


async def _execute(run: LoadRun, *, resume: bool, **options) -> LoadRun:
    """A new run was created owned by this process; a resumed one is claimed now."""
    if resume:
        return await execute_run(run_id=run.pk, resume=True, **options)
    return await execute_claimed(run, resume=False, **options)


@contextmanager
def _command_logging(*, on_terminal: bool, verbosity: int):
    """What the loader logs while the command runs. The command reports the run's outcome and
    warning itself, once, so the loader's own lines for them are dropped. Off a terminal (cron,
    scripts) nothing else is said unless asked (`-v 2`); on a terminal, retries and warnings print
    above the progress bar (per-batch lines with `-v 2`)."""
    loggers = [logging.getLogger("tokens"), logging.getLogger("tokens.sources.resilience")]
    levels = [logger.level for logger in loggers]
    outcome = _DropRunOutcome()
    if verbosity >= 2:
        loggers[0].setLevel(logging.INFO)
    elif on_terminal:
        loggers[0].setLevel(logging.WARNING)
        loggers[1].setLevel(logging.INFO)  # a retry is worth seeing while it happens
    else:
        loggers[0].setLevel(logging.CRITICAL + 1)
    handlers = loggers[0].handlers
    for handler in handlers:
        handler.addFilter(outcome)
    try:
        if on_terminal:
            with logging_redirect_tqdm(loggers=loggers[:1]):
                yield
        else:
            yield
    finally:
        for handler in handlers:
            handler.removeFilter(outcome)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class _DropRunOutcome(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "run_outcome", False)


async def _until_sigterm(work):
    """Await `work`, cancelling it on SIGTERM as Ctrl-C does, so the run is recorded as interrupted."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _summary(run: LoadRun) -> dict:
    """The run as the API shows it, plus how long it took."""
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
    return {**run_payload(run), "executed_by": run.executed_by, "duration_seconds": duration}


class _ProgressBar:
    """tqdm on a terminal (fetched of the estimate, rate, ETA, accepted and rejected); nothing otherwise."""

    def __init__(self, *, enabled: bool) -> None:
        self._bar = tqdm(total=None, desc="fetched", unit="tok", disable=not enabled, dynamic_ncols=True)

    def __enter__(self) -> "_ProgressBar":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()

    def finish(self, run: LoadRun) -> None:
        """A finished run's bar ends at its total, not at the last estimate."""
        if run.status == LoadRun.Status.SUCCEEDED and not run.follow:
            self._bar.total = run.fetched
        self.update(run)

    def update(self, run: LoadRun) -> None:
        if run.estimated_total:
            self._bar.total = run.estimated_total
        self._bar.update(run.fetched - self._bar.n)  # update(), not n=: tqdm's rate and ETA need it
        self._bar.set_postfix(
            accepted=run.accepted,
            rejected=run.rejected,
            failed=run.failed,
            batches=run.batches,
            details=f"{run.details_done}/{run.details_queued}",
        )
