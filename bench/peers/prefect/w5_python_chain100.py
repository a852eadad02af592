"""W5 python_chain100 (the Python function `step` of bench/flows/w5_python_chain100.yaml): 100 sequential tasks, each returns previous output + 1 (Prefect 3)."""
from prefect import flow, task

N = 100


@task
def step(x: int) -> int:
    return x + 1


@flow(name="w5-python-chain100")
def w5_python_chain100(start: int = 0) -> int:
    x = start
    for _ in range(N):
        x = step(x)  # direct call: runs the task now, in order, returns its value
    return x


if __name__ == "__main__":
    result = w5_python_chain100()
    assert result == N, result
    print(f"RESULT w5_python_chain100 prefect ok value={result}")
