"""W6 python_fanout1000 (the Python function `double` of bench/flows/w6_python_fanout1000.yaml): produce 1000 items, map x*2 over them, sum (Airflow dynamic task mapping, .expand())."""

import os

# dag.test() only runs a DAG that a DAG bundle holds: make this file the bundle's
# dags folder (so a run parses this DAG alone), unless the caller chose one.
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", os.path.abspath(__file__))

from airflow.sdk import dag, task

from _check import final_xcom

N = 1000  # under Airflow's default max_map_length of 1024
EXPECTED = sum(2 * i for i in range(N))  # 999000


@task
def produce() -> list:
    return list(range(N))


@task
def double(x: int) -> int:
    return x * 2


@task
def summarize(values) -> int:
    return sum(values)


@dag(dag_id="w6_python_fanout1000", schedule=None, catchup=False)
def w6_python_fanout1000():
    summarize(double.expand(x=produce()))


DAG = w6_python_fanout1000()  # module level, so the DAG bundle parse finds it

if __name__ == "__main__":
    dr = DAG.test()
    result = final_xcom(dr, "summarize")
    assert result == EXPECTED, result
    print(f"RESULT w6_python_fanout1000 airflow ok value={result}")
