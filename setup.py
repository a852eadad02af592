"""Package layout (pyproject.toml holds the metadata): the library from shared/, plus the platform.

`infra/` and `functions/` stay at the repository's root, where the CDK CLI and the tests use them; the
wheel maps them under `stratoflow/_platform/` with setuptools' package_dir, so nothing is copied or
generated at build time and the sdist carries the same tree as the repository.
"""

from setuptools import find_namespace_packages, setup

PLATFORM = "stratoflow._platform"


def _platform_packages(folder: str) -> list[str]:
    found = find_namespace_packages(folder, exclude=["*.__pycache__", "__pycache__"])
    return [f"{PLATFORM}.{folder}"] + [f"{PLATFORM}.{folder}.{name}" for name in found]


setup(
    package_dir={
        "": "shared",
        f"{PLATFORM}.infra": "infra",
        f"{PLATFORM}.functions": "functions",
    },
    # Namespace packages too, as pyproject's `packages.find` did: some folders (stratoflow/tasks) have
    # no __init__.py.
    packages=find_namespace_packages(
        "shared", include=["stratoflow", "stratoflow.*"], exclude=["*.__pycache__"]
    )
    + _platform_packages("infra")
    + _platform_packages("functions"),
)
