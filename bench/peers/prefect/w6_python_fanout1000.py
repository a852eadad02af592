"""W6 python_fanout1000 (the Python function `double` of bench/flows/w6_python_fanout1000.yaml): produce 1000 items, map x*2 over them, sum (Prefect 3, task.map)."""
from prefect import flow, task

N = 1000
EXPECTED = sum(2 * i for i in range(N))  # 999000


@task
def produce() -> list:
    return list(range(N))


@task
def double(x: int) -> int:
    return x * 2


@task
def summarize(values: list) -> int:
    return sum(values)


@flow(name="w6-python-fanout1000")
def w6_python_fanout1000() -> int:
    items = produce()
    doubled = double.map(items)  # native dynamic mapping: one task run per item
    return summarize(doubled)  # futures are resolved before summarize runs


if __name__ == "__main__":
    result = w6_python_fanout1000()
    assert result == EXPECTED, result
    print(f"RESULT w6_python_fanout1000 prefect ok value={result}")
