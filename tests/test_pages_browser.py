"""The hub's pages in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by Selenium; nothing downloads a browser) against `zoo hub
serve` on loopback. The hub holds real packages: the session's iris base, two
packages derived from it (one signed), a keras-hub preset imported with `zoo
import`, and beside them the hand-built hub of `hub_pages` (a base whose second
revision renames a cut point, and a card with script in every text field).
A screenshot of each page type is saved under the test's temp folder."""

import shutil
from pathlib import Path

import pytest
from conftest import ok
from hub_pages import MARKER, build_page_hub
from served import served
from test_signing_fast import key_pair

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and DRIVER),
                       reason="Debian's chromium and chromium-driver are not installed "
                              "(apt-get install chromium chromium-driver; .ci/run does)"),
]


def browser(javascript: bool = True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1280,1100"):
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(DRIVER), options=options)


@pytest.fixture(scope="module")
def hub(tmp_path_factory, work, session_home, base_iris_revision, derived_pkg, tuned_pkg):
    """The hub described above, with the signing key's public half."""
    from presets import backbone_preset

    root_work = tmp_path_factory.mktemp("browser-hub")
    private, public = key_pair(root_work, "team")
    pages = build_page_hub(root_work)
    # the session hub's iris, copied with its git objects: the same commit shas the
    # derived packages' lineage names
    shutil.copytree(session_home / "data" / "hub" / "models" / "zoo" / "iris",
                    pages.root / "models" / "zoo" / "iris")
    ok("publish", derived_pkg, f"file://{pages.root}/acme/heaton", "--tag", "v1")
    ok("publish", tuned_pkg, f"file://{pages.root}/acme/heaton-tuned", "--tag", "v1",
       "--sign", private)
    preset = backbone_preset(root_work / "preset-src")
    ok("import", preset, "--license", "Apache-2.0", "--name", "tiny-resnet",
       "--out", root_work / "tiny-resnet")
    ok("publish", root_work / "tiny-resnet", f"file://{pages.root}/keras/tiny-resnet")
    return pages, public, base_iris_revision


@pytest.fixture(scope="module")
def site(hub, tmp_path_factory):
    pages, public, _ = hub
    with served(pages.root, tmp_path_factory.mktemp("state"), "--trust-key",
                str(public)) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def driver():
    chrome = browser()
    yield chrome
    chrome.quit()


def shot(driver, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


def visible_repos(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return sorted(link.text for link in driver.find_elements(By.CSS_SELECTOR, "#repos a.repo")
                  if link.is_displayed())


def test_the_index_lists_the_hub_and_its_search_box_and_filters_work(site, driver, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver.get(f"{site}/")
    everything = visible_repos(driver)
    assert everything == sorted(["acme/derived-a", "acme/derived-b", "acme/heaton",
                                 "acme/heaton-tuned", "evil/evil", "keras/mirrored",
                                 "keras/tiny-resnet", "zoo/base", "zoo/iris", "zoo/preset"])
    shot(driver, tmp_path, "index")
    driver.find_element(By.ID, "search").send_keys("acme/heaton")
    assert visible_repos(driver) == ["acme/heaton", "acme/heaton-tuned"]
    driver.find_element(By.ID, "search").send_keys(Keys.CONTROL, "a", Keys.BACKSPACE)  # a user
    Select(driver.find_element(By.ID, "filter-kind")).select_by_value("imported")
    assert visible_repos(driver) == ["keras/tiny-resnet", "zoo/preset"]
    Select(driver.find_element(By.ID, "filter-kind")).select_by_value("")
    Select(driver.find_element(By.ID, "filter-license")).select_by_value("MIT")
    assert visible_repos(driver) == ["acme/derived-a", "zoo/base"]  # exactly MIT


def test_the_filters_work_with_javascript_off(site, tmp_path):
    chrome = browser(javascript=False)
    try:
        chrome.get(f"{site}/?kind=derived")
        assert visible_repos(chrome) == ["acme/derived-a", "acme/derived-b", "acme/heaton",
                                         "acme/heaton-tuned"]
    finally:
        chrome.quit()


def test_a_model_page_links_lineage_both_ways_and_draws_the_cut_points(site, driver, hub,
                                                                       tmp_path):
    from selenium.webdriver.common.by import By

    _, _, iris_revision = hub
    driver.get(f"{site}/zoo/iris")
    derived = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#descendants a.derived")]
    assert derived == ["acme/heaton", "acme/heaton-tuned"]
    cut_points = driver.find_elements(By.CSS_SELECTOR, "#layer-map svg .cut-point")
    names = {point.get_attribute("data-name") for point in cut_points}
    assert names and names <= {row.text for row in driver.find_elements(
        By.CSS_SELECTOR, ".cut-points td:first-child code")}
    shot(driver, tmp_path, "model")
    driver.find_element(By.LINK_TEXT, "acme/heaton-tuned").click()
    assert driver.current_url.endswith("/acme/heaton-tuned")
    base = driver.find_element(By.CSS_SELECTOR, "#ancestors a.base")
    assert base.text == "zoo/iris" and base.get_attribute("href").endswith(
        f"/zoo/iris?rev={iris_revision}")
    assert "verified by sha256:" in driver.find_element(By.ID, "signature").text
    frozen = driver.find_elements(By.CSS_SELECTOR, "#layer-map svg .frozen")
    assert frozen, "the frozen part of a derived package is shaded"


def test_the_comparison_shows_a_removed_cut_point(site, driver, tmp_path):
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/zoo/base/compare/v1...v2")
    breaking = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "tr.breaking")]
    assert any("dense_2" in row for row in breaking), breaking
    shot(driver, tmp_path, "compare")


def test_no_script_from_a_hostile_card_runs(site, driver, tmp_path):
    from selenium.webdriver.common.by import By

    for url in ("/evil/evil", "/", "/?q=script", "/evil/evil?rev=main"):
        driver.get(f"{site}{url}")
        assert driver.execute_script(f"return window.{MARKER}") is None, url
    driver.get(f"{site}/evil/evil")
    for link in driver.find_elements(By.CSS_SELECTOR, "#readme a, #facts a"):
        assert not link.get_attribute("href").lower().startswith("javascript:")
    assert MARKER in driver.find_element(By.ID, "facts").text  # shown, as text
    shot(driver, tmp_path, "hostile")
