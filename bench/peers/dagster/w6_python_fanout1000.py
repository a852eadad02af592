"""W6 python_fanout1000 (the Python function `double` of bench/flows/w6_python_fanout1000.yaml): produce 1000 items, map x*2 over them, sum (Dagster DynamicOut)."""
from dagster import DynamicOut, DynamicOutput, job, op

from _instance import bench_instance

N = 1000
EXPECTED = sum(2 * i for i in range(N))  # 999000


@op(out=DynamicOut(int))
def produce():
    for i in range(N):
        yield DynamicOutput(i, mapping_key=str(i))


@op
def double(x: int) -> int:
    return x * 2


@op
def summarize(values: list) -> int:
    return sum(values)


@job
def w6_python_fanout1000():
    summarize(produce().map(double).collect())


if __name__ == "__main__":
    with bench_instance() as instance:
        res = w6_python_fanout1000.execute_in_process(instance=instance)
        assert res.success
        result = res.output_for_node("summarize")
    assert result == EXPECTED, result
    print(f"RESULT w6_python_fanout1000 dagster ok value={result}")
