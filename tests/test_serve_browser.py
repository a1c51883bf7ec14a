"""``rruffgeo serve`` end to end in a real headless browser (Debian's Chromium, driven by
Selenium): start the command, upload a real RRUFF file and an instrument file, and check the
page shows the species, the neighbours, the map and the set without any request leaving
127.0.0.1. Saves the screenshot in ``test-artifacts/serve.png`` (the README's copy,
``docs/serve.png``, is refreshed from it by hand, so a test run never changes a tracked file).

Skips, saying why, when Chromium, chromedriver or Selenium is missing
(``scripts/test-setup.sh`` installs them as root with apt reachable) or the shared RRUFF data
is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from synthetic_predict import located_final

REPO = Path(__file__).resolve().parents[1]
INSTRUMENT = REPO / "tests" / "data" / "formats" / "nCal_Qontor785_z005H12_100_1x3s.wdf"
SCREENSHOT = REPO / "test-artifacts" / "serve.png"


def browser_or_skip() -> tuple[str, str]:
    """Paths of chromium and chromedriver; a skip that says what is missing."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("needs chromium and chromedriver (apt-get install chromium "
                    "chromium-driver; scripts/test-setup.sh does it as root)")
    return chromium, driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rruff_file(shared: Path, folder: Path) -> Path:
    """One real RRUFF quartz spectrum from the shared zip, written to ``folder``."""
    with zipfile.ZipFile(shared / "excellent_unoriented.zip") as zf:
        name = next(n for n in sorted(zf.namelist())
                    if n.startswith("Quartz__") and "Processed" in n)
        target = folder / name.rsplit("/", 1)[-1]
        target.write_bytes(zf.read(name))
    return target


@pytest.fixture
def server(tmp_path):
    """``rruffgeo serve`` on a free loopback port, as a user starts it."""
    model = located_final(tmp_path / "wd")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "rruffgeo", "serve", "--model", str(model),
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        assert url in proc.stdout.readline()  # it says where the page is
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def start_browser(chromium: str, driver: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2300",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                # Any name but the loopback address fails to resolve: no way out.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def requested_urls(browser) -> list[str]:
    """Every URL the page asked for (Chrome's network log)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_upload_in_a_real_browser(server, shared_rruff, tmp_path):
    chromium, driver = browser_or_skip()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    real = rruff_file(shared_rruff, tmp_path)
    browser = start_browser(chromium, driver)
    try:
        browser.get(server)
        browser.find_element(By.ID, "files").send_keys(f"{real}\n{INSTRUMENT}")
        browser.find_element(By.ID, "go").click()
        WebDriverWait(browser, 90).until(ec.presence_of_element_located((By.ID, "results")))
        cards = browser.find_elements(By.CSS_SELECTOR, "article.sample")
        assert [c.find_element(By.TAG_NAME, "h2").text for c in cards] == \
            [real.name, INSTRUMENT.name]
        for card in cards:
            assert "Quartz" in card.find_element(By.CSS_SELECTOR, ".species table").text
            rows = card.find_elements(By.CSS_SELECTOR, ".specimens table tr")
            assert len(rows) == 11  # header + the ten nearest specimens
            assert card.find_elements(By.CSS_SELECTOR, "svg.worldmap circle.specimen")
            assert "90% set:" in card.find_element(By.CSS_SELECTOR, ".set").text
            assert "of 3 countries" in card.find_element(By.CSS_SELECTOR, ".set").text
        SCREENSHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT))
        urls = requested_urls(browser)
    finally:
        browser.quit()
    assert urls, "the network log is empty"
    away = [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urlsplit(u).hostname != "127.0.0.1"]
    assert away == [], f"requests left 127.0.0.1: {away}"
