"""The web UI in headless Chromium (Debian's package, driven by Playwright) against a real autoheal and engine."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Self

import httpx
import pytest
import uvicorn

from autoheal.api.app import create_app
from autoheal.engine.service import Service
from tests.integration.support import CRASH_ONCE, HEALTH_CMD, Autoheal, docker, wait_for
from tests.integration.test_cli import free_port

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WAIT_MS = 60_000
TOKEN = "ui-t0ken"
# Healthy while /tmp/ok exists; leaves at once on SIGTERM, so that a restart is quick.
HEALTHY_WHILE_OK = "trap 'exit 0' TERM; touch /tmp/ok; while :; do sleep 0.2; done"
# The UI tests' containers need no network; without one they do not depend on the engine's bridge either.
NO_NETWORK = ("--network", "none")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None
else:
    expect.set_options(timeout=WAIT_MS)


@asynccontextmanager
async def serve(service: Service, token: str | None = None, port: int | None = None) -> AsyncIterator[str]:
    """The real app over HTTP on 127.0.0.1, in this test's event loop."""
    port = port or free_port()
    app = create_app(service, token=token, manage_service=False, allowed_hosts=[])
    # A short graceful shutdown: the page's event stream would otherwise hold the server open.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started or task.done(), "the UI server started")
    assert server.started, "the UI server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if async_playwright is None:
        pytest.fail("the browser tests need Playwright: pip install -e '.[test]'", pytrace=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need {CHROMIUM}: apt-get install chromium (Debian's package)", pytrace=False)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


class Pages:
    """Browser pages of one test, each in its own context (session); closed on leaving, before the server stops.

    problems: script errors and Content-Security-Policy violations seen by any of them.
    """

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.problems: list[str] = []
        self.log: list[str] = []
        self.contexts = []

    async def new(self, **options) -> Page:
        context = await self.browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900}, **options)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: self.problems.append(msg.text) if "Content Security Policy" in msg.text else None)
        page.on("console", lambda msg: self.log.append(f"{msg.type}: {msg.text}"))
        page.on("requestfailed", lambda request: self.log.append(f"request failed: {request.url} {request.failure}"))
        return page

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type, *exc_info) -> None:
        if exc_type is not None:  # shown with the failure: what the page said
            print("browser console:", *self.log[-50:], sep="\n  ")
        for context in self.contexts:
            await context.close()


async def live(page: Page) -> None:
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")


@pytest.fixture
async def ah(start_autoheal) -> Autoheal:
    return await start_autoheal({"restart": {"stop_timeout_seconds": 2}})


async def api_status(base: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.get("/api/status", headers=headers)
        response.raise_for_status()
        return response.json()


async def test_the_dashboard_counts_match_the_api(ah, containers, browser):
    names = [containers.run(HEALTHY_WHILE_OK, options=NO_NETWORK),
             containers.run(HEALTHY_WHILE_OK, monitored=False, options=NO_NETWORK)]
    await wait_for(lambda: all(ah.container(n) for n in names), "autoheal sees both containers")
    async with serve(ah.service) as base, Pages(browser) as pages:
        page = await pages.new()
        await page.goto(base + "/")
        await live(page)
        await expect(page.locator("#svc-engine")).to_contain_text("connected")
        await expect(page.locator("#svc-healing")).to_have_text("active")
        ids = ["total", "monitored", "quarantined", "unhealthy", "restarts-hour", "restarts-day"]
        keys = ["total_containers", "monitored_containers", "quarantined_containers", "unhealthy_containers",
                "restarts_last_hour", "restarts_last_day"]

        async def same() -> tuple[list[str], list[str]]:
            shown = [await page.locator(f"#stat-{i}").text_content() for i in ids]
            status = await api_status(base)
            return shown, [str(status[k]) for k in keys]

        # Other tests share the engine, so the total can move: poll until page and API agree.
        for _ in range(60):
            shown, expected = await same()
            if shown == expected:
                break
            await asyncio.sleep(0.5)
        assert shown == expected
        assert int(shown[1]) >= 1  # this test's labelled container
    assert pages.problems == []


async def test_enabling_a_container_in_the_containers_tab_makes_it_monitored(ah, containers, browser):
    name = containers.run(HEALTHY_WHILE_OK, monitored=False, options=NO_NETWORK)
    await wait_for(lambda: ah.container(name), f"autoheal sees {name}")
    assert not ah.healer.selection(ah.container(name)).monitored
    async with serve(ah.service) as base, Pages(browser) as pages:
        page = await pages.new()
        await page.goto(base + "/#containers")
        await page.fill("#c-filter", name)
        row = page.locator(f'#c-rows tr[data-name="{name}"]')
        await expect(row.locator(".c-monitored")).to_have_text("off")
        await expect(page.locator("#c-rows tr")).to_have_count(1)
        await row.locator(".c-select").check()
        await expect(page.locator("#c-count")).to_contain_text("1 selected")
        await page.click("#c-enable")
        await expect(row.locator(".c-monitored")).to_have_text("on")
        await expect(page.locator("#c-status")).to_contain_text("enabled for 1 container")
        await wait_for(lambda: ah.healer.selection(ah.container(name)).monitored, f"{name} monitored")
        assert ah.healer.choices.get(name) is True
        # The reason is there for a pointer (title) and for a screen reader.
        assert "Monitored" in (await row.locator(".c-monitored").get_attribute("title"))
    assert pages.problems == []


async def test_a_container_that_goes_unhealthy_appears_restarted_in_the_events_tab_without_a_reload(
    ah, containers, browser
):
    async with serve(ah.service) as base, Pages(browser) as pages:
        page = await pages.new()
        await page.goto(base + "/#events")
        await live(page)
        await page.evaluate("window.sameDocument = true")
        name = containers.run(HEALTHY_WHILE_OK, health=HEALTH_CMD, options=NO_NETWORK)
        await wait_for(lambda: (c := ah.container(name)) and c.health == "healthy", f"{name} healthy")
        docker("exec", name, "rm", "/tmp/ok")
        restarted = page.locator(f'#e-rows tr[data-kind="restart"][data-container="{name}"]')
        await expect(restarted).to_have_count(1)
        await expect(restarted).to_contain_text("unhealthy")
        assert await page.evaluate("window.sameDocument") is True  # no reload happened
        # Newest first: the restart is above the record that scheduled it.
        kinds = await page.locator(f'#e-rows tr[data-container="{name}"]').evaluate_all(
            "rows => rows.map(r => r.dataset.kind)"
        )
        assert kinds.index("restart") < kinds.index("scheduled")
    assert pages.problems == []


async def test_a_bad_cooldown_shows_the_field_error_and_changes_nothing(ah, browser):
    before = ah.service.settings
    async with serve(ah.service) as base, Pages(browser) as pages:
        page = await pages.new()
        await page.goto(base + "/#config")
        field = page.locator("#cfg-restart-cooldown_seconds")
        await expect(field).to_have_value("0")
        await field.fill("-5")
        await page.click("#config-save")
        error = page.locator("#cfg-restart-cooldown_seconds-error")
        await expect(error).to_contain_text("greater than or equal to 0")
        assert "is-invalid" in (await field.get_attribute("class"))
        await expect(page.locator("#config-result")).to_contain_text("nothing was changed")
        await expect(field).to_have_value("-5")  # kept, for the operator to correct
    assert ah.service.settings == before
    assert ah.records(kind="config_changed") == []
    assert pages.problems == []


async def test_healing_can_be_paused_and_resumed_from_the_configuration_tab(ah, browser):
    async with serve(ah.service) as base, Pages(browser) as pages:
        page = await pages.new()
        await page.goto(base + "/#config")
        await expect(page.locator("#maint-toggle")).to_have_text("Pause healing")
        await page.click("#maint-toggle")
        await expect(page.locator("#maint-toggle")).to_have_text("Resume healing")
        await expect(page.locator("#paused-badge")).to_be_visible()
        assert ah.healer.maintenance is True
        await page.click("#tab-dashboard-btn")
        await expect(page.locator("#svc-healing")).to_contain_text("paused")
        await page.click("#tab-config-btn")
        await page.click("#maint-toggle")
        await expect(page.locator("#paused-badge")).to_be_hidden()
        assert ah.healer.maintenance is False
    assert pages.problems == []


async def test_the_events_tab_shows_the_last_50_and_more_on_demand_with_filters(ah, browser):
    async with httpx.AsyncClient(timeout=30) as client, serve(ah.service) as base:
        for seconds in range(1, 56):  # 55 config_changed records
            response = await client.put(base + "/api/config/restart", json={"cooldown_seconds": seconds})
            assert response.status_code == 200
        async with Pages(browser) as pages:
            page = await pages.new()
            await page.goto(base + "/#events")
            rows = page.locator("#e-rows tr")
            await expect(rows).to_have_count(50)
            await expect(rows.first).to_contain_text("cooldown")
            times = await page.locator("#e-rows time").evaluate_all("ts => ts.map(t => Date.parse(t.dateTime))")
            assert times == sorted(times, reverse=True)  # newest first
            await page.click("#e-more")
            await expect(rows).to_have_count(55)
            await expect(page.locator("#e-more")).to_be_hidden()
            await page.select_option("#e-kind", "restart")
            await expect(rows).to_have_count(0)
            await page.select_option("#e-kind", "config_changed")
            await expect(rows).to_have_count(50)
            await page.fill("#e-container", "no-such-container")
            await expect(rows).to_have_count(0)
    assert pages.problems == []


async def test_the_containers_tab_stays_usable_with_500_containers(ah, browser):
    """The engine's list is replaced by 500 made-up containers (names cannot carry HTML; labels can)."""
    async with serve(ah.service) as base, Pages(browser) as pages:
        fake = [
            {
                "id": f"{i:064x}", "short_id": f"{i:012x}", "name": f"svc-{i:03d}", "image": "busybox",
                "status": "running" if i % 7 else "exited", "health": "unhealthy" if i % 50 == 0 else "healthy",
                "monitored": i % 2 == 0, "monitored_rule": "label", "monitored_reason": "label autoheal=true",
                "quarantined": i % 100 == 0, "quarantined_at": None, "failures": 0, "restarts_in_window": i % 5,
                "window_seconds": 600, "next_attempt_at": None, "manual_stop": False, "docker_restart_policy": "no",
                "labels": {"x": "<script>window.owned=1</script>"}, "label_problems": [], "custom_check": False,
                "check": None,
            }
            for i in range(500)
        ]
        page = await pages.new()
        await page.route("**/api/containers", lambda route: route.fulfill(json={"containers": fake}))
        # Real containers of other tests must not join the made-up ones through the live stream.
        await page.route("**/api/events/stream", lambda route: route.abort())
        await page.goto(base + "/#containers")
        rows = page.locator("#c-rows tr")
        await expect(rows).to_have_count(500)
        await expect(page.locator("#c-count")).to_have_text("500 of 500 shown")
        await page.fill("#c-filter", "svc-49")
        await expect(rows).to_have_count(10)
        await page.fill("#c-filter", "")
        await page.select_option("#c-state", "quarantined")
        await expect(rows).to_have_count(5)
        await page.select_option("#c-state", "all")
        await page.select_option("#c-sort", "restarts")
        await expect(rows.first.locator("td").nth(5)).to_have_text("4")
        await page.check("#c-all")
        await expect(page.locator("#c-count")).to_contain_text("500 selected")
        assert await page.evaluate("window.owned") is None
    assert pages.problems == []


async def test_export_then_import_round_trips_and_a_refused_import_changes_nothing(ah, browser, tmp_path):
    async with serve(ah.service) as base, Pages(browser) as pages:
        page = await pages.new()
        await page.goto(base + "/#config")
        await expect(page.locator("#cfg-restart-cooldown_seconds")).to_have_value("0")
        async with page.expect_download() as download_info:
            await page.click("#export")
        download = await download_info.value
        exported = tmp_path / "exported.json"
        await download.save_as(exported)
        document = json.loads(exported.read_text())
        assert document["restart"]["cooldown_seconds"] == 0
        original = ah.service.settings

        # Someone changes the configuration elsewhere; the open page shows it.
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            response = await client.put("/api/config/restart", json={"cooldown_seconds": 42})
            assert response.status_code == 200
        await expect(page.locator("#cfg-restart-cooldown_seconds")).to_have_value("42")

        await page.set_input_files("#import-file", str(exported))
        await expect(page.locator("#import-result")).to_contain_text("restart.cooldown_seconds")
        await expect(page.locator("#cfg-restart-cooldown_seconds")).to_have_value("0")
        assert ah.service.settings == original

        bad = dict(document, restart={**document["restart"], "cooldown_seconds": -1, "max_restarts": 99})
        await page.set_input_files(
            "#import-file", files=[{"name": "bad.json", "mimeType": "application/json", "buffer": json.dumps(bad).encode()}]
        )
        await expect(page.locator("#import-result")).to_contain_text("Refused, nothing was changed")
        await expect(page.locator("#import-result")).to_contain_text("restart.cooldown_seconds")
        assert ah.service.settings == original
    assert pages.problems == []


async def test_the_token_prompt_appears_when_auth_is_on_and_a_wrong_token_is_said_plainly(ah, browser):
    async with serve(ah.service, token=TOKEN) as base, Pages(browser) as pages:
        page = await pages.new()
        await page.goto(base + "/")
        prompt = page.locator("#token-modal")
        await expect(prompt).to_be_visible()
        await expect(page.locator("#token-input")).to_be_focused()
        await page.fill("#token-input", "not-the-token")
        await page.press("#token-input", "Enter")
        await expect(page.locator("#token-error")).to_contain_text("Wrong token")
        await expect(page.locator("#token-error")).to_be_visible()
        await page.fill("#token-input", TOKEN)
        await page.click("#token-submit")
        await expect(prompt).to_be_hidden()
        await live(page)
        status = await api_status(base, TOKEN)
        await expect(page.locator("#stat-monitored")).to_have_text(str(status["monitored_containers"]))
        # Kept for the browser session: a reload does not ask again.
        await page.reload()
        await live(page)
        await expect(prompt).to_be_hidden()
        assert await page.evaluate("sessionStorage.getItem('autoheal.token')") == TOKEN
        # A new session asks again.
        other = await pages.new()
        await other.goto(base + "/")
        await expect(other.locator("#token-modal")).to_be_visible()
    assert pages.problems == []


async def test_the_detail_view_shows_labels_as_text_and_manages_a_custom_check(ah, containers, browser):
    payload = '<img src=x onerror="window.owned=1">'
    name = containers.run(HEALTHY_WHILE_OK, labels={"note": payload, "<b>key</b>": "x"}, options=NO_NETWORK)
    await wait_for(lambda: ah.container(name), f"autoheal sees {name}")
    async with serve(ah.service) as base, Pages(browser) as pages:
        page = await pages.new()
        await page.goto(base + "/#containers")
        await page.fill("#c-filter", name)
        await page.locator(f'#c-rows tr[data-name="{name}"] .c-open').click()
        detail = page.locator("#detail")
        await expect(detail).to_be_visible()
        labels = page.locator("#d-labels")
        await expect(labels).to_contain_text(payload)
        await expect(labels).to_contain_text("<b>key</b>")
        assert await labels.locator("img, b").count() == 0
        assert await page.evaluate("window.owned") is None

        # A bad port is refused by the API, and the error sits next to the field.
        await page.select_option("#hc-type", "tcp")
        await page.fill("#hc-tcp", "70000")
        await page.click("#hc-save")
        await expect(page.locator("#hc-tcp-error")).to_contain_text("less than or equal to 65535")
        assert name not in ah.service.healthchecks

        await page.fill("#hc-tcp", "80")
        await page.click("#hc-save")
        await expect(page.locator("#hc-message")).to_contain_text("Check saved")
        await expect(page.locator("#hc-current")).to_contain_text("port 80")
        assert ah.service.healthchecks[name].tcp_port == 80

        await page.click("#hc-remove")
        await expect(page.locator("#hc-message")).to_contain_text("Check removed")
        await expect(page.locator("#hc-current")).to_contain_text("None")
        assert name not in ah.service.healthchecks

        # The recent events of the container are in the detail; a restart asks first.
        await page.locator("#detail-actions [data-act=restart]").click()
        await expect(page.locator("#confirm")).to_be_visible()
        await page.locator("#confirm [data-bs-dismiss]").last.click()  # Cancel
        await expect(detail).to_be_visible()
        assert ah.records(name, "restart") == []
        await page.locator("#detail-actions [data-act=restart]").click()
        await page.click("#confirm-ok")
        await ah.wait_record(name, "restart")
        await expect(page.locator("#d-events")).to_contain_text("restart")
    assert pages.problems == []


async def test_a_quarantined_container_is_shown_and_released_from_the_containers_tab(ah, containers, browser):
    name = containers.run(HEALTHY_WHILE_OK, options=NO_NETWORK)
    await wait_for(lambda: ah.container(name), f"autoheal sees {name}")
    assert ah.healer.quarantine(ah.container(name).id)
    async with serve(ah.service) as base, Pages(browser) as pages:
        page = await pages.new()
        await page.goto(base + "/#containers")
        await page.select_option("#c-state", "quarantined")
        row = page.locator(f'#c-rows tr[data-name="{name}"]')
        await expect(row).to_contain_text("quarantined")
        await row.locator("[data-act=unquarantine]").click()
        await expect(page.locator("#c-status")).to_contain_text("released from quarantine")
        await expect(row).to_have_count(0)  # no longer matches the "quarantined" filter
    assert not ah.healer.state(ah.container(name).id).quarantined
    assert pages.problems == []


async def test_a_lost_connection_is_marked_and_the_page_recovers_by_itself(ah, containers, browser):
    port = free_port()
    async with Pages(browser) as pages:
        async with serve(ah.service, port=port) as base:
            page = await pages.new()
            await page.goto(base + "/#events")
            await live(page)
        await expect(page.locator("#conn")).to_have_attribute("data-state", "down")
        await expect(page.locator("#conn")).to_contain_text("Disconnected")
        name = containers.run(CRASH_ONCE, options=NO_NETWORK)  # happens while the page is cut off
        await ah.wait_record(name, "restart")
        async with serve(ah.service, port=port):
            await live(page)
            await expect(page.locator(f'#e-rows tr[data-kind="restart"][data-container="{name}"]').first).to_be_visible()
            await page.close()
    assert pages.problems == []


async def test_each_tab_in_light_and_dark_mode(ah, containers, browser, tmp_path):
    """Renders every tab, follows the system's colour scheme, and (AUTOHEAL_TEST_SCREENSHOTS=1) refreshes docs/."""
    for i in range(3):
        containers.run(HEALTHY_WHILE_OK, name=f"{containers.label_key}-web-{i}", health=HEALTH_CMD, options=NO_NETWORK)
    crasher = containers.run("sleep 1; exit 3", name=f"{containers.label_key}-worker", options=NO_NETWORK)
    containers.run(HEALTHY_WHILE_OK, monitored=False, name=f"{containers.label_key}-db", options=NO_NETWORK)
    await ah.wait_record(crasher, "restart", count=2)
    async with serve(ah.service) as base, Pages(browser) as pages:
        for scheme in ("light", "dark"):
            page = await pages.new(color_scheme=scheme)
            await page.goto(base + "/")
            assert await page.get_attribute("html", "data-bs-theme") == scheme
            await live(page)
            for tab in ("dashboard", "containers", "events", "config"):
                await page.click(f"#tab-{tab}-btn")
                await expect(page.locator(f"#tab-{tab}")).to_be_visible()
                if tab != "dashboard":  # already shown at the start, so no hash yet
                    await expect(page).to_have_url(re.compile(f"#{tab}$"))
                if tab == "containers":
                    await page.fill("#c-filter", containers.label_key)
                    await expect(page.locator("#c-rows tr")).to_have_count(5)
                if tab == "events":
                    await expect(page.locator("#e-rows tr").first).to_be_visible()
                if tab == "config":
                    await expect(page.locator("#cfg-monitor-label_key")).to_have_value(containers.label_key)
                await page.screenshot(path=tmp_path / f"{tab}-{scheme}.png", animations="disabled")
            if scheme == "light":
                await page.click("#tab-containers-btn")
                await page.locator(f'#c-rows tr[data-name="{crasher}"] .c-open').click()
                await expect(page.locator("#d-events")).to_contain_text("restart")
                await expect(page.locator("#hc-current")).to_be_visible()
                await page.screenshot(path=tmp_path / "detail-light.png", animations="disabled")
                await page.keyboard.press("Escape")
                await expect(page.locator("#detail")).to_be_hidden()
            # Keyboard: the tabs are reachable and switch with the arrow keys.
            await page.focus("#tab-config-btn")
            await page.keyboard.press("ArrowLeft")
            await expect(page.locator("#tab-events")).to_be_visible()
    if os.environ.get("AUTOHEAL_TEST_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for tab, target in (("dashboard", "dashboard"), ("containers", "containers"), ("events", "events"),
                            ("config", "configuration")):
            shutil.copy(tmp_path / f"{tab}-light.png", SCREENSHOTS / f"{target}.png")
        shutil.copy(tmp_path / "containers-dark.png", SCREENSHOTS / "containers-dark.png")
        shutil.copy(tmp_path / "detail-light.png", SCREENSHOTS / "container-detail.png")
    assert pages.problems == []


async def test_the_configuration_tab_lists_notification_channels_and_sends_a_test(start_autoheal, containers, browser):
    from tests.integration.receiver import Receiver

    receiver = await Receiver().start()
    try:
        ah = await start_autoheal(
            environ={"WEBHOOK_URL": receiver.url("/ok/secret-path"), "APPRISE_URL": f"json://127.0.0.1:{receiver.port}/bad400"}
        )
        async with serve(ah.service) as base, Pages(browser) as pages:
            page = await pages.new()
            await page.goto(base + "/#config")
            await live(page)
            channels = page.locator("#n-channels")
            await expect(channels).to_contain_text(f"http://127.0.0.1:{receiver.port}/…")
            await expect(channels).not_to_contain_text("secret-path")  # the webhook's path is masked
            await page.click("#n-test")
            result = page.locator("#n-result")
            await expect(result).to_contain_text("not delivered everywhere")
            await expect(result).to_contain_text("webhook")
            await expect(result).to_contain_text("delivered")
            tests = [r.json() for r in receiver.at("/ok/") if r.json()["event"] == "test"]
            assert len(tests) == 1 and tests[0]["host"] == ah.service.hostname

            name = containers.run(CRASH_ONCE, options=NO_NETWORK)
            await ah.wait_record(name, "restart")
            row = page.locator("#n-entries tr", has_text=f"restarted · {name}").filter(has_text="webhook")
            await expect(row).to_contain_text("sent (1)")  # arrived without a reload
            assert not pages.problems, pages.problems
    finally:
        await receiver.close()


async def test_the_detail_view_shows_a_containers_parents_and_children(ah, containers, browser):
    parent = containers.run(HEALTHY_WHILE_OK, options=NO_NETWORK)
    child = containers.run(HEALTHY_WHILE_OK, labels={"autoheal.depends_on": parent}, options=NO_NETWORK)
    await wait_for(lambda: ah.container(parent) and ah.container(child), "autoheal sees both")
    async with serve(ah.service) as base, Pages(browser) as pages:
        for name, shown, other in ((child, "Depends on", parent), (parent, "Needed by", child)):
            page = await pages.new()
            await page.goto(base + "/#containers")
            await page.fill("#c-filter", name)
            await page.locator(f'#c-rows tr[data-name="{name}"] .c-open').click()
            detail = page.locator("#detail")
            await expect(detail).to_contain_text(shown)
            await expect(detail).to_contain_text(other)
            await page.close()
    assert pages.problems == []
