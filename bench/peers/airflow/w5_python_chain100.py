"""W5 python_chain100 (the Python function `step` of bench/flows/w5_python_chain100.yaml): 100 sequential tasks, each returns previous output + 1 (Airflow, dag.test)."""

import os

# dag.test() only runs a DAG that a DAG bundle holds: make this file the bundle's
# dags folder (so a run parses this DAG alone), unless the caller chose one.
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", os.path.abspath(__file__))

from airflow.sdk import dag, task

from _check import final_xcom

N = 100


@task
def step(x: int) -> int:
    return x + 1


@dag(dag_id="w5_python_chain100", schedule=None, catchup=False)
def w5_python_chain100():
    x = 0
    for i in range(N):
        x = step.override(task_id=f"step_{i + 1}")(x)  # value passed by XCom


DAG = w5_python_chain100()  # module level, so the DAG bundle parse finds it

if __name__ == "__main__":
    dr = DAG.test()
    result = final_xcom(dr, f"step_{N}")
    assert result == N, result
    print(f"RESULT w5_python_chain100 airflow ok value={result}")
