"""W6 python_fanout1000 (the Python function `double` of bench/flows/w6_python_fanout1000.yaml), no orchestrator: produce 1000 items, map x*2, sum."""
N = 1000
EXPECTED = sum(2 * i for i in range(N))  # 999000


def produce() -> list:
    return list(range(N))


def double(x: int) -> int:
    return x * 2


def summarize(values: list) -> int:
    return sum(values)


if __name__ == "__main__":
    result = summarize([double(x) for x in produce()])
    assert result == EXPECTED, result
    print(f"RESULT w6_python_fanout1000 plain ok value={result}")
