"""Secrets stay out of logs and pages, production settings refuse to start insecure, staff-only actions."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.fakes.coins import make_history
from tests.fakes.http import Reply
from tests.helpers import queue_run, run_load
from tokens.models import LoadRun
from tokens.sources.redaction import redact_url

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "DJANGO_SETTINGS_MODULE": "project.settings",
    "DEBUG": "false",
    "SECRET_KEY": "Zq8v-production-like-secret-" + "Kp3xW9tLm2" * 4,
    "ALLOWED_HOSTS": "board.example.com",
    "PUMPFUN_API_URL": "http://127.0.0.1:9",
}


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_the_deploy_check_is_clean_with_production_settings(tmp_path):
    result = manage({**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}, "check", "--deploy")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("key", [None, "short", "django-insecure-" + "x" * 60, "a" * 60])
def test_with_debug_off_the_app_refuses_to_start_without_a_real_secret_key(tmp_path, key):
    env = {**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    env.pop("SECRET_KEY")
    if key is not None:
        env["SECRET_KEY"] = key
    result = manage(env, "check")
    assert result.returncode != 0
    assert "SECRET_KEY must come from the environment" in result.stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://mainnet.helius-rpc.com/?api-key=0f1e2d3c", "https://mainnet.helius-rpc.com/***"),
        ("https://solana.quiknode.pro/abc123secret/", "https://solana.quiknode.pro/***"),
        ("https://user:pw@rpc.example:8899", "https://rpc.example:8899/***"),
        ("http://127.0.0.1:8899", "http://127.0.0.1:8899"),
    ],
)
def test_rpc_urls_are_redacted(url, shown):
    assert redact_url(url) == shown


@pytest.mark.django_db(transaction=True)
def test_the_rpc_key_appears_in_no_log_line_and_not_in_the_admin(pumpfun, das, admin_client, caplog):
    import asyncio

    caplog.set_level(logging.DEBUG)
    pumpfun.coins = make_history(3)
    das.erroring_mints.add(pumpfun.coins[0]["mint"])
    das.fail_next(Reply(503, {"message": "busy"}), Reply(503, {"message": "busy"}))  # retried, then fine
    run = asyncio.run(run_load(days=1, upstream="api"))
    assert run.holder_errors == 1
    everything = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "test-secret-key" not in everything
    assert "holder RPC error" in everything  # the failure itself is reported
    page = admin_client.get("/admin/tokens/botsettings/").content.decode()
    assert "test-secret-key" not in page
    assert redact_url(das.url + "/?api-key=test-secret-key") in page


@pytest.mark.django_db(transaction=True)
def test_resume_is_staff_only_with_csrf(admin_user, django_user_model):
    run = queue_run(days=1, source="recent")
    LoadRun.objects.filter(pk=run.pk).update(status="interrupted")
    trader = django_user_model.objects.create_user("trader", password="pw-for-tests-only")
    client = Client(enforce_csrf_checks=True)
    json = {"Accept": "application/json"}
    assert client.post(f"/runs/{run.pk}/resume/", headers=json).status_code == 403  # anonymous
    client.force_login(trader)
    assert client.post(f"/runs/{run.pk}/resume/", headers=json).status_code == 403
    client.force_login(admin_user)
    assert client.post(f"/runs/{run.pk}/resume/", headers=json).status_code == 403  # no CSRF token
    token = client.get("/").cookies["csrftoken"].value
    LoadRun.objects.create(source="recent", days=1, batch_size=10, origin="web", status="running")
    conflict = client.post(f"/runs/{run.pk}/resume/", headers={**json, "X-CSRFToken": token})
    assert conflict.status_code == 409 and "already going" in conflict.json()["error"]
    assert client.post("/runs/999/resume/", headers={**json, "X-CSRFToken": token}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_second_load_of_the_same_source_gets_409(admin_client):
    queue_run(days=1, source="hybrid")
    response = admin_client.post("/runs/", {"days": "1", "source": "hybrid"}, headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert "a hybrid load is already going" in response.json()["error"]
    assert LoadRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_board_offers_resume_for_an_interrupted_run(admin_client):
    run = queue_run(days=1, source="recent")
    LoadRun.objects.filter(pk=run.pk).update(status="interrupted", error="interrupted: its process stopped")
    page = admin_client.get("/").content.decode()
    assert 'id="resume-run"' in page and 'id="resume-run" hidden' not in page.replace("\n", " ").replace("  ", " ")
    assert "interrupted" in page
