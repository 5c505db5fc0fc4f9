"""Export or import the bot settings as {"bot_settings": {...}}."""

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tokens.bot_settings import export_settings, import_settings
from tokens.models import BotSettings


class Command(BaseCommand):
    help = "Export the bot settings to JSON, or import them from a JSON file ('-' for stdin)."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("export", help="Print the settings as JSON")
        importer = actions.add_parser("import", help="Replace the settings from a JSON file")
        importer.add_argument("path", help="JSON file, or - for standard input")

    def handle(self, *args, **options) -> None:
        if options["action"] == "export":
            self.stdout.write(json.dumps(export_settings(BotSettings.get_solo()), indent=2))
            return
        document = self._read(options["path"])
        try:
            import_settings(document)
        except ValidationError as exc:
            raise CommandError(f"settings not imported: {'; '.join(_messages(exc))}") from None
        self.stdout.write("Settings imported.")

    def _read(self, path: str):
        try:
            raw = sys.stdin.buffer.read(MAX_BYTES + 1) if path == "-" else _read_file(path)
            if len(raw) > MAX_BYTES:
                raise CommandError(f"{path} is larger than {MAX_BYTES // 1024} kB; not a settings export")
            return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text; not a settings export") from None
        except (json.JSONDecodeError, ValueError) as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from None
        except RecursionError:
            raise CommandError(f"{path} is nested too deeply; not a settings export") from None


MAX_BYTES = 64 * 1024


def _read_file(path: str) -> bytes:
    with Path(path).open("rb") as file:
        return file.read(MAX_BYTES + 1)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()]
    return exc.messages
