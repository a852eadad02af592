"""The console's pages in chromium: each page loads with no serious accessibility violation, a flow
starts from its form, logs stream live, an execution is killed, restarted, a pause resumed, and a
validation error shows inline at its line."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import axe_problems, screenshot

pytestmark = pytest.mark.browser
WAIT = 30


def wait(browser: Any) -> WebDriverWait:  # type: ignore[type-arg]
    # The pages re-render parts of themselves as the execution moves: an element read may go stale.
    return WebDriverWait(browser, WAIT, ignored_exceptions=[StaleElementReferenceException])


def api(console_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{console_url}/api/v1{path}", data=data, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def click(browser: Any, css: str) -> None:
    """Click an element that a refresh of the page may be re-rendering: find it again until it holds."""

    def clicked(b: Any) -> bool:
        b.find_element(By.CSS_SELECTOR, css).click()
        return True

    wait(browser).until(clicked)


def open_page(browser: Any, url: str, ready_id: str) -> None:
    browser.get(url)
    wait(browser).until(ready.presence_of_element_located((By.ID, ready_id)))


def state_of(browser: Any) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, "#summary .state").text)


def wait_state(browser: Any, *states: str) -> None:
    wait(browser).until(lambda b: state_of(b) in states)


def start_from_api(console_url: str, flow: str, inputs: dict[str, Any] | None = None) -> str:
    execution = api(console_url, f"/flows/shop.orders/{flow}/executions", {"inputs": inputs or {}})
    return str(execution["id"])


def test_the_flows_page_lists_the_flows_and_passes_axe(browser: Any, console_url: str) -> None:
    open_page(browser, f"{console_url}/ui/flows", "flows")

    rows = browser.find_elements(By.CSS_SELECTOR, "#flows tbody tr")
    assert {r.find_elements(By.TAG_NAME, "td")[1].text for r in rows} == {
        "greet",
        "slow",
        "approve",
        "broken",
    }
    assert axe_problems(browser) == []
    screenshot(browser, "flows")


def test_a_flow_page_starts_an_execution_from_its_form(browser: Any, console_url: str) -> None:
    # Given the flow's page, with its topology and next fire times
    open_page(browser, f"{console_url}/ui/flows/shop.orders/greet", "start-form")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.topology g.topo-group")
    assert "Europe/Paris" in browser.find_element(By.CSS_SELECTOR, "ul.triggers").text
    assert axe_problems(browser) == []
    screenshot(browser, "flow")

    # When the form is filled in (by keyboard) and sent
    customer = browser.find_element(By.CSS_SELECTOR, "#start-form [name=customer]")
    customer.send_keys("Ada")
    orders = browser.find_element(By.CSS_SELECTOR, "#start-form [name=orders]")
    orders.clear()
    orders.send_keys("7")
    Select(browser.find_element(By.CSS_SELECTOR, "#start-form [name=channel]")).select_by_value("sms")
    browser.find_element(By.CSS_SELECTOR, "#start-form [name=apiKey]").send_keys("hunter2-secret", Keys.ENTER)

    # Then the execution's page opens, the run succeeds, its outputs show and the secret is masked
    wait(browser).until(ready.url_contains("/ui/executions/"))
    wait(browser).until(ready.presence_of_element_located((By.ID, "summary")))
    wait_state(browser, "SUCCESS")
    wait(browser).until(lambda b: "Ada has 7 orders" in b.find_element(By.ID, "details").text)
    wait(browser).until(lambda b: "******" in b.find_element(By.ID, "details").text)
    assert "hunter2-secret" not in browser.page_source
    wait(browser).until(lambda b: b.find_element(By.ID, "logs").get_attribute("data-ended") == "true")
    assert "order three" in browser.find_element(By.ID, "logs").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.gantt rect.gantt-bar")) >= 5
    assert browser.find_elements(By.CSS_SELECTOR, "#topology g.topo-node.state-success")
    assert axe_problems(browser) == []
    screenshot(browser, "execution")


def test_a_form_refusal_says_which_input(browser: Any, console_url: str) -> None:
    open_page(browser, f"{console_url}/ui/flows/shop.orders/greet", "start-form")
    customer = browser.find_element(By.CSS_SELECTOR, "#start-form [name=customer]")
    browser.execute_script("arguments[0].removeAttribute('required')", customer)  # let the server judge
    browser.find_element(By.CSS_SELECTOR, "#start-form button[type=submit]").click()
    alert = wait(browser).until(
        ready.presence_of_element_located((By.CSS_SELECTOR, "#start-status [role=alert]"))
    )
    assert "customer" in alert.text


def test_logs_stream_live_and_filter_by_task_then_a_kill(browser: Any, console_url: str) -> None:
    # Given a running execution that logs a line every 0.2 s
    execution_id = start_from_api(console_url, "slow", {"lines": 200})
    open_page(browser, f"{console_url}/ui/executions/{execution_id}", "logs")

    # When its page is open, Then lines arrive while it runs
    wait(browser).until(lambda b: "line 3" in b.find_element(By.ID, "logs").text)
    wait_state(browser, "RUNNING")
    first = len(browser.find_elements(By.CSS_SELECTOR, "#logs li"))
    wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#logs li")) > first)
    assert axe_problems(browser) == []

    # When the logs are filtered to one task, Then only its lines show
    Select(browser.find_element(By.ID, "log-task")).select_by_value("line")
    wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#logs li"))
    tasks = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#logs li .task")}
    assert tasks == {"line"}

    # When it is killed from the page, Then it ends KILLED
    click(browser, "#kill")
    wait_state(browser, "KILLED")
    assert browser.find_element(By.ID, "restart").is_displayed()


def test_a_failed_execution_restarts_from_the_page(browser: Any, console_url: str) -> None:
    execution = api(console_url, "/flows/shop.billing/broken/executions", {})
    open_page(browser, f"{console_url}/ui/executions/{execution['id']}", "summary")
    wait_state(browser, "FAILED")
    wait(browser).until(lambda b: "the card was declined" in b.find_element(By.ID, "summary").text)

    click(browser, "#restart")

    wait(browser).until(lambda b: "restarted 1 time(s)" in b.find_element(By.ID, "summary").text)
    wait_state(browser, "FAILED")
    runs = api(console_url, f"/executions/{execution['id']}/taskruns")["taskRuns"]
    assert [len(r["attempts"]) for r in runs if r["taskId"] == "boom"] == [2]


def test_a_pause_is_resumed_with_its_on_resume_inputs(browser: Any, console_url: str) -> None:
    execution_id = start_from_api(console_url, "approve")
    open_page(browser, f"{console_url}/ui/executions/{execution_id}", "summary")
    wait_state(browser, "PAUSED")
    form = wait(browser).until(ready.presence_of_element_located((By.ID, "resume-form")))
    assert axe_problems(browser) == []

    Select(form.find_element(By.CSS_SELECTOR, "[name=approved]")).select_by_value("true")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    wait_state(browser, "SUCCESS")
    wait(browser).until(lambda b: "approved=true" in b.find_element(By.ID, "logs").text)


def test_a_replay_from_a_chosen_task_opens_the_new_execution(browser: Any, console_url: str) -> None:
    execution_id = start_from_api(console_url, "greet", {"customer": "Bo"})
    open_page(browser, f"{console_url}/ui/executions/{execution_id}", "summary")
    wait_state(browser, "SUCCESS")

    Select(browser.find_element(By.ID, "replay-task")).select_by_value("each")
    click(browser, "#replay")

    wait(browser).until(lambda b: execution_id not in b.current_url)
    wait_state(browser, "SUCCESS")
    wait(browser).until(lambda b: f"Replay of {execution_id}" in b.find_element(By.ID, "summary").text)

    # And the chain's link lists both executions
    click(browser, "#chain-link")
    wait(browser).until(ready.presence_of_element_located((By.ID, "executions")))
    listed = {
        r.find_element(By.TAG_NAME, "a").text
        for r in browser.find_elements(By.CSS_SELECTOR, "#executions tbody tr")
    }
    assert execution_id in listed and len(listed) == 2


def test_a_validation_error_shows_inline_at_its_line(browser: Any, console_url: str) -> None:
    open_page(browser, f"{console_url}/ui/flows/shop.billing/broken", "edited-source")
    editor = browser.find_element(By.ID, "edited-source")
    text = editor.get_attribute("value").replace("type: Fail", "type: Faill")
    editor.clear()
    editor.send_keys(text)

    browser.find_element(By.ID, "validate").click()

    marked = wait(browser).until(
        ready.presence_of_element_located((By.CSS_SELECTOR, "#validation li.has-error .diagnostic"))
    )
    line = next(n for n, source in enumerate(text.splitlines(), 1) if "Faill" in source)
    assert f"line {line}" in marked.text and "Faill" in marked.text
    assert axe_problems(browser) == []
    screenshot(browser, "validation")


def test_the_executions_list_filters_and_pages(browser: Any, console_url: str) -> None:
    for _ in range(3):
        api(console_url, "/flows/shop.billing/broken/executions", {})
    open_page(browser, f"{console_url}/ui/executions?namespace=shop.billing&limit=2", "executions")

    rows = browser.find_elements(By.CSS_SELECTOR, "#executions tbody tr")
    assert len(rows) == 2 and all("shop.billing.broken" in r.text for r in rows)
    assert axe_problems(browser) == []
    screenshot(browser, "executions")
    first_page = {r.find_element(By.TAG_NAME, "a").text for r in rows}

    browser.find_element(By.ID, "next-page").click()
    wait(browser).until(ready.url_contains("cursor="))
    wait(browser).until(ready.presence_of_element_located((By.ID, "executions")))
    second_page = {
        r.find_element(By.TAG_NAME, "a").text
        for r in browser.find_elements(By.CSS_SELECTOR, "#executions tbody tr")
    }
    assert second_page and not (second_page & first_page)


def test_the_pages_are_usable_by_keyboard(browser: Any, console_url: str) -> None:
    # Given the flows page
    open_page(browser, f"{console_url}/ui/flows", "flows")

    # When Tab is pressed: the first stop is the skip link
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element.text == "Skip to content"

    # And Tab reaches a flow's link, which Enter opens
    for _ in range(30):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.switch_to.active_element.text == "approve":
            break
    else:
        raise AssertionError("Tab never reached the flow's link")
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait(browser).until(ready.url_contains("/ui/flows/shop.orders/approve"))
