"""Numbers are ASCII digits everywhere they enter; bodies, flags and files of the wrong shape are
refused with one clear message, and nothing already stored changes."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.test_settings import admin_form
from tokens.bot_settings import export_settings
from tokens.models import BotSettings, LoadRun

pytestmark = pytest.mark.django_db

JSON = {"Accept": "application/json"}


@pytest.fixture(autouse=True)
def runs_are_only_queued(settings):
    """The runs these requests create wait in the queue. Started in the server, they lived in the test
    client's short-lived loop, and their first database calls went on in asgiref's thread past the
    test: one held SQLite's write lock into a later test's flush ("database is locked", 1 run in 4 of
    this module followed by test_api_filters.py)."""
    settings.LOADER_WORKERS = True


def post_json(client, body, content_type="application/json"):
    return client.post("/runs/", body, content_type=content_type, headers=JSON)


def test_a_json_body_is_read_with_the_forms_fields_and_checks(admin_client):
    response = post_json(admin_client, json.dumps({"days": 3, "batch_size": 3, "source": "recent"}))
    assert response.status_code == 202
    run = LoadRun.objects.get(pk=response.json()["run_id"])
    assert (run.days, run.batch_size, run.source, run.follow) == (3, 3, "recent", False)
    LoadRun.objects.filter(pk=run.pk).update(status="cancelled")


@pytest.mark.parametrize(
    "body, content_type, status, message",
    [
        ("", "application/json", 400, "empty request"),
        ("{}", "application/json", 400, "empty request"),
        ("[1, 2]", "application/json", 400, "the body must be a JSON object"),
        ("{bad json", "application/json", 400, "the body is not valid JSON"),
        ('{"days": 3, "when": "now"}', "application/json", 400, "unknown fields: when"),
        ('{"days": true}', "application/json", 400, "days must be a whole number"),
        ('{"days": 3.5}', "application/json", 400, "days must be a whole number"),
        ('{"days": "\\u0667"}', "application/json", 400, "days must be a whole number"),  # Arabic-Indic 7
        ('{"days": 3, "follow": "maybe"}', "application/json", 400, "follow must be true or false"),
        ('{"days": 3, "source": 5}', "application/json", 400, "source must be a string"),
        ("days=3", "text/plain", 415, "send the run as a form or as JSON"),
        ("", "application/x-www-form-urlencoded", 400, "empty request"),
        ("days=%EF%BC%97", "application/x-www-form-urlencoded", 400, "days must be a whole number"),  # full-width 7
        ("days=3&batch_size=%D9%A3", "application/x-www-form-urlencoded", 400, "batch size must be a whole number"),
        ("days=3&follow=yes please", "application/x-www-form-urlencoded", 400, "follow must be true or false"),
    ],
)
def test_bad_run_requests_are_refused_and_record_nothing(admin_client, body, content_type, status, message):
    response = post_json(admin_client, body, content_type=content_type)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert LoadRun.objects.count() == 0


def test_follow_is_a_real_boolean(admin_client):
    response = post_json(admin_client, "days=1&follow=on", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 202
    assert LoadRun.objects.get().follow is True
    LoadRun.objects.update(status="cancelled")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--days", ""], "--days was given without a value"),
        (["--days", "٧"], "days must be a whole number from 1 to 365"),
        (["--batch-size", " "], "--batch-size was given without a value"),
        (["--batch-size", "５"], "batch size must be a whole number"),
    ],
)
def test_the_command_takes_ascii_digits_only(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("load_historical_tokens", *args)
    assert LoadRun.objects.count() == 0


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"bot_settings": {"min_usd_market_cap": Infinity}}', "Infinity is not a number JSON allows"),
        ('{"bot_settings": {"min_usd_market_cap": NaN}}', "NaN is not a number JSON allows"),
        ('{"bot_settings": {"min_usd_market_cap": 1e400}}', "min_usd_market_cap: must be a finite number"),
        ('{"bot_settings": {"historical_batch_size": true}}', "historical_batch_size: must be a whole number"),
        ('{"bot_settings": {"include_nsfw": 0}}', "include_nsfw: must be true or false"),
        ('{"bot_settings": {"blocklist": ["rug"]}}', "blocklist: must be a string"),
        ('{"bot_settings": {"blocklist": null}}', "blocklist: may not be null"),
        ('{"bot_settings": {"min_holders": 100000000000}}', "min_holders"),
        ('{"bot_settings": {"max_usd_market_cap": 1e308}}', "max_usd_market_cap"),
        ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
    ],
)
def test_a_settings_file_of_the_wrong_shape_changes_nothing(tmp_path, content, message):
    before = export_settings(BotSettings.get_solo())
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=message) as raised:
        call_command("bot_settings", "import", str(path))
    assert "\n" not in str(raised.value)
    assert export_settings(BotSettings.get_solo()) == before


def test_a_binary_settings_file_is_one_line(tmp_path):
    path = tmp_path / "settings.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(CommandError, match="is not UTF-8 text"):
        call_command("bot_settings", "import", str(path))


def test_admin_numbers_have_real_bounds_and_matching_messages(admin_client):
    page = admin_client.post("/admin/tokens/botsettings/", admin_form(trending_limit=-3)).content.decode()
    assert "Ensure this value is greater than or equal to 1." in page
    assert "greater than or equal to 0" not in page
    page = admin_client.post("/admin/tokens/botsettings/", admin_form(min_usd_market_cap="1e308")).content.decode()
    assert "Ensure this value is less than or equal to 1000000000000.0." in page
    assert BotSettings.get_solo().min_usd_market_cap is None


def test_an_empty_multipart_form_is_refused(admin_client):
    response = admin_client.post("/runs/", {}, headers=JSON)  # the test client sends multipart
    assert response.status_code == 400 and "empty request" in response.json()["error"]
    response = admin_client.post("/runs/", {"days": "2", "source": "recent"}, headers=JSON)
    assert response.status_code == 202
    LoadRun.objects.update(status="cancelled")
