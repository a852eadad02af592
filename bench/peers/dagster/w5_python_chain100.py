"""W5 python_chain100 (the Python function `step` of bench/flows/w5_python_chain100.yaml): 100 sequential ops, each returns previous output + 1 (Dagster)."""
from dagster import In, job, op

from _instance import bench_instance

N = 100


@op(ins={"x": In(int, default_value=0)})  # the first op in the chain gets 0
def step(x: int) -> int:
    return x + 1


@job
def w5_python_chain100():
    x = step()
    for _ in range(N - 1):
        x = step(x)  # repeated invocations are aliased step, step_2, ... step_100


if __name__ == "__main__":
    with bench_instance() as instance:
        res = w5_python_chain100.execute_in_process(instance=instance)
        assert res.success
        result = res.output_for_node(f"step_{N}")
    assert result == N, result
    print(f"RESULT w5_python_chain100 dagster ok value={result}")
