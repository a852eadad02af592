"""`strato executions list --label` and the chain `strato executions show` prints."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.unit.cli.test_run_cmd import invoke
from tests.unit.runtime.test_lineage import CHILD, GRANDPARENT, PARENT


def _chain(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """Run grandparent -> parent -> child; returns the home and each flow's execution id."""
    flows = tmp_path / "flows"
    flows.mkdir()
    for name, source in (("grandparent", GRANDPARENT), ("parent", PARENT), ("child", CHILD)):
        (flows / f"{name}.yaml").write_text(textwrap.dedent(source))
    home = str(tmp_path / "home")
    code, _, _ = invoke(
        "run", str(flows / "grandparent.yaml"), "--flows-dir", str(flows), "--json", "--home", home
    )
    assert code == 0
    code, out, _ = invoke("executions", "list", "--json", "--home", home)
    return home, {e["flowId"]: e["id"] for e in json.loads(out)}


def test_list_by_correlation_label_finds_the_whole_chain(tmp_path: Path) -> None:
    # Given a three-level chain and an unrelated execution in the same history
    home, ids = _chain(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text(textwrap.dedent(CHILD))
    invoke("run", str(other), "--json", "--home", home)
    # When executions are listed by the root's correlation id
    label = f"system.correlationId={ids['grandparent']}"
    code, out, _ = invoke("executions", "list", "--label", label, "--json", "--home", home)
    # Then exactly the chain is listed
    assert code == 0
    assert sorted(e["id"] for e in json.loads(out)) == sorted(ids.values())


def test_show_names_parent_children_and_root(tmp_path: Path) -> None:
    # Given a three-level chain
    home, ids = _chain(tmp_path)
    # When the middle execution is shown
    code, out, _ = invoke("executions", "show", ids["parent"], "--json", "--home", home)
    # Then its chain names the grandparent as root and parent, and the child
    assert code == 0
    assert json.loads(out)["chain"] == {
        "root": ids["grandparent"],
        "parent": ids["grandparent"],
        "children": [ids["child"]],
    }
    code, out, _ = invoke("executions", "show", ids["parent"], "--home", home)
    assert f"root {ids['grandparent']}" in out
    assert f"child {ids['child']}" in out


def test_a_label_filter_needs_key_and_value(tmp_path: Path) -> None:
    home, _ = _chain(tmp_path)
    code, _, err = invoke("executions", "list", "--label", "system.correlationId", "--home", home)
    assert code == 2 and "--label expects KEY=VALUE" in err
