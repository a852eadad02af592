"""Debian's chromium and chromium-driver (installed by tests.debian_packages when missing)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from tests.debian_packages import installed

PACKAGES = ["chromium", "chromium-driver"]


@dataclass(frozen=True)
class Chromium:
    browser: str
    driver: str


def _found() -> Chromium | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return Chromium(browser, driver) if browser and driver else None


def install_chromium() -> Chromium:
    return installed(_found, PACKAGES, "chromium with chromium-driver")
