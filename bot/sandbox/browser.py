"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium, offline.

Used by the browser tests and ``scripts/sandbox_screenshot.py``. Selenium Manager is never asked to
download anything: both the browser and the driver are given by path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path(os.environ.get("SANDBOX_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("SANDBOX_CHROMEDRIVER", "/usr/bin/chromedriver"))
INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-browser"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--metrics-recording-only",
    "--password-store=basic",
]


def browser_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        return (f"{' and '.join(missing)} not found: install Debian's chromium and chromium-driver "
                f"(scripts/install-browser does it, as root)")
    return None


def ensure_browser() -> str | None:
    """Runs scripts/install-browser when the browser is missing; returns why it is still missing, if so."""
    reason = browser_missing()
    if reason and INSTALL_SCRIPT.exists() and os.access(INSTALL_SCRIPT, os.X_OK) and shutil.which("bash"):
        try:
            subprocess.run([str(INSTALL_SCRIPT)], check=False, timeout=900,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except (OSError, subprocess.TimeoutExpired):
            pass
        reason = browser_missing()
    return reason


def chromium_driver(profile_dir: Path, *, width: int = 1280, height: int = 800, scale: float = 1.0):
    """A Selenium WebDriver for headless Chromium with a fresh profile in ``profile_dir``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile_dir = Path(profile_dir)
    profile_dir.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={width},{height}")
    if scale != 1.0:
        options.add_argument(f"--force-device-scale-factor={scale}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # page errors, for the tests
    service = Service(executable_path=str(CHROMEDRIVER), log_output=subprocess.DEVNULL)
    return webdriver.Chrome(service=service, options=options)


def page_errors(driver) -> list[str]:
    """JavaScript errors and failed loads the page logged so far (read once: the log is drained)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
