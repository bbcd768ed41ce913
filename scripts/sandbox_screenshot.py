#!/usr/bin/env python3
"""Makes docs/sandbox.png from the sandbox itself: starts `ecg-bot sandbox` in-process on a temporary
data dir, has Alice register (typing in the page like a person would), opens the activation mail in the
Mailbox, clicks its link, logs in, and photographs the page in headless Chromium.

    .venv/bin/python scripts/sandbox_screenshot.py [--out docs/sandbox.png]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.embedded import free_port  # noqa: E402
from bot.sandbox.browser import chromium_driver, ensure_browser  # noqa: E402
from bot.sandbox.server import start_sandbox  # noqa: E402

PASSWORD = "Str0ng!pass"
EMAIL = "alice@example.com"
WIDTH, HEIGHT = 1280, 800


def drive(driver, url: str, out: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 20, poll_frequency=0.1)

    def bot_texts() -> list[str]:
        return driver.execute_script(
            "return [...document.querySelectorAll('#messages .msg[data-from=bot] .text')].map(t => t.innerText)")

    def send(text: str, expect: str) -> None:
        count = len(bot_texts())
        box = driver.find_element(By.ID, "input")
        for ch in text:  # typed, not pasted
            box.send_keys(ch)
        box.send_keys(Keys.ENTER)
        wait.until(lambda d: any(expect in t for t in bot_texts()[count:]))
        time.sleep(0.2)

    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
    driver.get(url + "?user=1001")
    wait.until(lambda d: d.execute_script("return document.body.dataset.live") == "1")
    send("/start", "ECG")
    send("/register", "username")
    send("alice", "email")
    send(EMAIL, "password")
    send(PASSWORD, "confirm")
    send(PASSWORD, "medical student")
    count = len(bot_texts())
    driver.find_element(By.XPATH, "//div[@class='keyboard']//button[text()='Medical student']").click()
    wait.until(lambda d: any("Account created" in t for t in bot_texts()[count:]))
    if not driver.find_element(By.ID, "mailbox").is_displayed():  # a narrow window: the mailbox is a drawer
        driver.find_element(By.ID, "mailbox-toggle").click()
    mail = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#mails li.mail"))[0]
    mail.click()
    count = len(bot_texts())
    wait.until(lambda d: mail.find_elements(By.CSS_SELECTOR, ".mail-body a.deep-link"))[0].click()
    wait.until(lambda d: any("is active" in t for t in bot_texts()[count:]))
    send("/login", "email")
    send(EMAIL, "password")
    send(PASSWORD, "Welcome")
    wait.until(lambda d: not d.find_element(By.ID, "toast").is_displayed())
    time.sleep(0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out))


async def main(out: Path, width: int, height: int) -> int:
    global WIDTH, HEIGHT
    WIDTH, HEIGHT = width, height
    reason = ensure_browser()
    if reason:
        print(f"sandbox_screenshot: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="ecg-sandbox-shot-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        sandbox = await start_sandbox(settings, "127.0.0.1", free_port(), poll_timeout=1)
        try:
            await sandbox.emulator.user(1002).send_text("/start")  # Bob has a chat too
            driver = await asyncio.to_thread(chromium_driver, Path(tmp) / "profile", width=width, height=height)
            try:
                await asyncio.to_thread(drive, driver, sandbox.page_url, out)
            finally:
                await asyncio.to_thread(driver.quit)
        finally:
            await sandbox.stop()
    print(out)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "sandbox.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.out, args.width, args.height)))
