"""The console in a real headless browser: one `strato server` (in-process, on a free loopback port)
and one chromium per test session, driven by selenium; axe-core checks each page."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratoflow.console.local import server_console
from stratoflow.local.server import StratoServer
from tests.browser.chromium import install_chromium

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).with_name("screenshots")

FLOWS = {
    "greet.yaml": """
        id: greet
        namespace: shop.orders
        description: Greets a customer and reports how many orders they have.
        labels: {team: shop}
        inputs:
          - {id: customer, type: STRING, description: Who to greet}
          - {id: orders, type: INT, defaults: 3}
          - {id: channel, type: SELECT, values: [email, sms], defaults: email}
          - {id: apiKey, type: SECRET, required: false}
        triggers:
          - {id: nightly, type: Schedule, cron: "30 2 * * *", timezone: Europe/Paris}
        tasks:
          - {id: hello, type: Log, message: "hello {{ inputs.customer }}"}
          - id: each
            type: ForEach
            values: [one, two, three]
            tasks:
              - {id: order, type: Log, message: "order {{ taskrun.value }}"}
          - {id: report, type: Return, format: "{{ inputs.customer }} has {{ inputs.orders }} orders"}
        errors:
          - {id: alert, type: Log, level: ERROR, message: "it failed"}
        outputs:
          - {id: report, type: STRING, value: "{{ outputs.report.value }}"}
    """,
    "slow.yaml": """
        id: slow
        namespace: shop.orders
        inputs:
          - {id: lines, type: INT, defaults: 40}
        tasks:
          - id: tick
            type: ForEach
            values: "{{ range(1, inputs.lines) }}"
            concurrencyLimit: 1
            tasks:
              - {id: line, type: Log, message: "line {{ taskrun.value }}"}
              - {id: nap, type: Sleep, duration: PT0.2S}
    """,
    "approve.yaml": """
        id: approve
        namespace: shop.orders
        tasks:
          - {id: prepare, type: Log, message: prepared}
          - id: wait
            type: Pause
            onResume:
              - {id: approved, type: BOOLEAN, description: Ship the order?}
          - {id: ship, type: Log, message: "approved={{ outputs.wait.onResume.approved }}"}
    """,
    "broken.yaml": """
        id: broken
        namespace: shop.billing
        tasks:
          - {id: charge, type: Log, message: charging}
          - {id: boom, type: Fail, errorMessage: the card was declined}
        finally:
          - {id: cleanup, type: Log, message: done}
    """,
}


@pytest.fixture(scope="session")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("console")
    flows = root / "flows"
    flows.mkdir()
    for name, text in FLOWS.items():
        (flows / name).write_text(textwrap.dedent(text))
    server = StratoServer(flows, root / "home", port=0, report=lambda _: None)
    server.open(server_console(server))
    server.sync_flows()
    stop = threading.Event()
    worker = threading.Thread(target=server.serve, args=(stop,), daemon=True)
    worker.start()
    yield f"http://127.0.0.1:{server.port}"
    stop.set()
    worker.join(30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    chromium = install_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium.browser
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--disable-extensions",
        "--no-first-run",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=chromium.driver), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def axe_problems(browser: Any) -> list[str]:
    """Serious and critical axe-core violations of the page as it is now."""
    browser.execute_script(AXE.read_text())
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}])));"
    )
    violations = json.loads(result)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n.get('target') for n in v['nodes']][:3]}"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


def screenshot(browser: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path
