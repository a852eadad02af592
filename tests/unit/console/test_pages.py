"""The pages are served by the app from files in the package, and load nothing from elsewhere."""

from __future__ import annotations

import re
from importlib.resources import files

from fastapi.testclient import TestClient

STATIC = files("stratoflow.console") / "static"


def test_every_page_path_serves_the_shell_under_a_strict_policy(client: TestClient) -> None:
    for path in ("/ui/flows", "/ui/flows/demo/greet", "/ui/executions", "/ui/executions/abc"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/static/main.js">' in response.text
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert client.get("/", follow_redirects=False).headers["location"] == "/ui/flows"


def test_static_files_are_served_with_their_types_and_nothing_else_is(client: TestClient) -> None:
    script = client.get("/static/main.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/console.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/missing.js").status_code == 404
    assert client.get("/static/..%2Fapp.py").status_code in (400, 404)
    assert client.get("/static/app.py").status_code == 400


def test_the_shipped_files_name_no_other_host() -> None:
    # Given every file the pages are made of
    shipped = {item.name: item.read_text() for item in STATIC.iterdir() if item.is_file()}
    assert {"index.html", "main.js", "console.css"} <= set(shipped)

    # Then none loads anything from another origin (no CDN: the console works offline)
    for name, text in shipped.items():
        urls = re.findall(r"https?://[^\s\"'`)]+", text)
        assert [u for u in urls if not u.startswith("http://www.w3.org/")] == [], name
        for imported in re.findall(r'from "([^"]+)"', text):
            assert imported.startswith("./") and imported[2:] in shipped, (name, imported)
