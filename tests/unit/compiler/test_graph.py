"""`strato graph`: the Mermaid flowchart shows tasks, branches, loops and error paths."""

from __future__ import annotations

import textwrap

from stratoflow.compiler.graph import flow_mermaid
from stratoflow.flow import load_flow

FLOW = textwrap.dedent(
    """
    id: g
    namespace: tests
    tasks:
      - id: check
        type: If
        condition: "{{ true }}"
        then:
          - {id: yes_task, type: Log, message: y}
        else:
          - {id: no_task, type: Log, message: n}
      - id: each
        type: ForEach
        values: [1, 2]
        tasks:
          - {id: child, type: Log, message: c}
      - id: dag
        type: Dag
        tasks:
          - task: {id: a, type: Log, message: a}
          - task: {id: b, type: Log, message: b}
            dependsOn: [a]
    errors:
      - {id: alert, type: Log, message: failed}
    finally:
      - {id: cleanup, type: Log, message: done}
    """
)


def test_mermaid_draws_branches_loops_dag_and_error_paths() -> None:
    text = flow_mermaid(load_flow(FLOW, "g.yaml"))
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert "  t_check -->|then| t_yes_task" in lines
    assert "  t_check -->|else| t_no_task" in lines
    assert any(line.strip().startswith('subgraph t_each_loop["each (ForEach)"]') for line in lines)
    assert "  t_each --> t_child" in lines
    assert "  t_a --> t_b" in lines
    assert "  failure -.-> t_alert" in lines
    assert any("-->|finally| t_cleanup" in line for line in lines)
    assert "  t_cleanup --> finish" in lines
