"""Bot settings: the admin-edited row, the environment override, export and import."""

import io
import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.fakes.coins import make_history
from tokens.bot_settings import effective_batch_size, export_settings
from tokens.checks import check_batch_size_env
from tokens.models import BotSettings, LoadRun
from tokens.runs.requests import plan_run

pytestmark = pytest.mark.django_db


def admin_form(**changes) -> dict:
    values = export_settings(BotSettings.get_solo())["bot_settings"]
    values.update(changes)
    return {key: ("" if value is None else value) for key, value in values.items() if value is not False}


def test_defaults_have_every_filter_off_but_the_seven_day_window():
    stored = BotSettings.get_solo()
    assert stored.historical_batch_size == 10
    assert (stored.token_age_filter, stored.custom_days) == ("last_7_days", 7)
    assert (stored.min_usd_market_cap, stored.max_usd_market_cap, stored.min_holders, stored.min_liquidity_sol) == (
        None, None, None, None,
    )  # fmt: skip
    assert stored.include_nsfw and stored.include_pump_only and stored.blocklist == ""


def test_the_environment_overrides_the_stored_batch_size(monkeypatch):
    stored = BotSettings.get_solo()
    assert effective_batch_size(stored) == 10
    monkeypatch.setenv("HISTORICAL_BATCH_SIZE", "15")
    assert effective_batch_size(stored) == 15
    assert plan_run(stored=stored).batch_size == 15


@pytest.mark.parametrize("bad", ["0", "-3", "ten", "10001", "1.5", ""])
def test_a_bad_environment_value_names_the_variable(monkeypatch, bad):
    monkeypatch.setenv("HISTORICAL_BATCH_SIZE", bad)
    with pytest.raises(ImproperlyConfigured, match="HISTORICAL_BATCH_SIZE must be"):
        effective_batch_size(BotSettings.get_solo())
    [error] = check_batch_size_env(None)
    assert error.id == "tokens.E001" and "HISTORICAL_BATCH_SIZE" in error.msg


@pytest.mark.django_db(transaction=True)
def test_an_admin_edit_applies_to_the_next_run_without_a_restart(admin_client, pumpfun):
    response = admin_client.post("/admin/tokens/botsettings/", admin_form(historical_batch_size=3, blocklist="rug"))
    assert response.status_code == 302
    pumpfun.coins = make_history(7)
    call_command("load_historical_tokens", "--days", "1", stdout=io.StringIO())
    run = LoadRun.objects.get()
    assert (run.batch_size, run.batches) == (3, 3)


@pytest.mark.parametrize("bad", ["0", "-1", "10001", "ten"])
def test_the_admin_refuses_a_bad_batch_size_and_keeps_the_old_one(admin_client, bad):
    response = admin_client.post("/admin/tokens/botsettings/", admin_form(historical_batch_size=bad))
    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors["historical_batch_size"]
    assert BotSettings.get_solo().historical_batch_size == 10


def test_the_admin_shows_the_environment_override(admin_client, monkeypatch):
    monkeypatch.setenv("HISTORICAL_BATCH_SIZE", "25")
    page = admin_client.get("/admin/tokens/botsettings/").content.decode()
    assert "25 (wins over the value above)" in page


def test_export_then_import_round_trips(tmp_path):
    stored = BotSettings.get_solo()
    stored.historical_batch_size = 42
    stored.blocklist = "rug\nscam"
    stored.save()
    out = io.StringIO()
    call_command("bot_settings", "export", stdout=out)
    document = json.loads(out.getvalue())
    assert document["bot_settings"]["historical_batch_size"] == 42
    assert next(iter(document["bot_settings"])) == "historical_batch_size"

    BotSettings.objects.all().delete()
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(document))
    call_command("bot_settings", "import", str(path), stdout=io.StringIO())
    assert export_settings(BotSettings.get_solo()) == document


def test_the_seed_document_shape_imports():
    from tokens.bot_settings import import_settings

    import_settings(
        {"bot_settings": {"historical_batch_size": 15, "token_age_filter": "last_3_days", "custom_days": 7}}
    )
    stored = BotSettings.get_solo()
    assert (stored.historical_batch_size, stored.token_age_filter) == (15, "last_3_days")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"settings": {}}', 'expected a JSON object of the form {"bot_settings"'),
        ('{"bot_settings": {"historical_batch_size": 0}}', "historical_batch_size"),
        ('{"bot_settings": {"historical_batch_size": "ten"}}', "historical_batch_size"),
        ('{"bot_settings": {"token_age_filter": "forever"}}', "token_age_filter"),
        ('{"bot_settings": {"historical_batch_size": 20, "colour": "red"}}', "unknown settings: colour"),
        ('{"bot_settings": {"min_usd_market_cap": 10, "max_usd_market_cap": 5}}', "max_usd_market_cap"),
    ],
)
def test_a_malformed_import_changes_nothing(tmp_path, text, message):
    path = tmp_path / "settings.json"
    path.write_text(text)
    with pytest.raises(CommandError, match=message):
        call_command("bot_settings", "import", str(path), stdout=io.StringIO())
    assert BotSettings.get_solo().historical_batch_size == 10
    assert BotSettings.get_solo().max_usd_market_cap is None


@pytest.mark.django_db
def test_the_admin_labels_read_as_plain_words(admin_client):
    page = admin_client.get("/admin/tokens/botsettings/").content.decode()
    labels = ["Batch size:", "Minimum market cap (USD):", "Maximum market cap (USD):", "Minimum holders:"]
    labels += ["Show NSFW tokens", "Show tokens still on their bonding curve", "Batch size from the environment"]
    for label in labels:
        assert label in page, label
    for old in ("Min usd market cap", "Include nsfw", "Include pump only", "HISTORICAL_BATCH_SIZE override"):
        assert old not in page, old
