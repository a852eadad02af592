"""W5 python_chain100 (the Python function `step` of bench/flows/w5_python_chain100.yaml), no orchestrator: 100 sequential calls, each returns previous + 1."""
N = 100


def step(x: int) -> int:
    return x + 1


if __name__ == "__main__":
    x = 0
    for _ in range(N):
        x = step(x)
    assert x == N, x
    print(f"RESULT w5_python_chain100 plain ok value={x}")
