"""The MLflow UI is the comparison tool: open a small finished study in headless Chromium and check what it shows.

Needs Debian's `chromium` and `chromium-driver` (installed by `make test` when missing). A screenshot of each page
is saved under test-artifacts/.
"""
from __future__ import annotations

import shutil
import time

import pytest
from mlflow.tracking import MlflowClient

from helpers import REPO, mlflow_run

pytestmark = [pytest.mark.integration, pytest.mark.learning]

CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=3000,1000"]
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture
def browser(tmp_path):
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.fail("chromium and chromedriver are missing: `make test` installs the Debian packages "
                    "chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium")
    for flag in CHROME_FLAGS + [f"--user-data-dir={tmp_path / 'chrome'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


def wait_for_text(driver, text: str, timeout: float = 60.0) -> str:
    from selenium.webdriver.common.by import By

    deadline = time.time() + timeout
    while time.time() < deadline:
        body = driver.find_element(By.TAG_NAME, "body").text
        if text in body:
            return body
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not shown within {timeout:.0f} s; page text: {body[:2000]}")


def show_column(driver, name: str) -> None:
    """Tick a column in the runs table's Columns menu (search box, then the entry itself)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    search = driver.find_element(By.XPATH, "//input[@placeholder='Search columns']")
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE)  # clear() does not reach React's onChange
    search.send_keys(name)
    time.sleep(0.5)
    titles = [e for e in driver.find_elements(By.XPATH, "//span[strong]") if e.text.strip() == name]
    assert titles, f"column {name!r} is not offered in the Columns menu"
    titles[0].find_element(By.XPATH, "./ancestor::*[contains(@class,'tree-treenode')][1]"
                                     "//*[contains(@class,'tree-checkbox')]").click()
    time.sleep(0.5)


def test_mlflow_ui_shows_runs_scores_and_registered_model(pos_source, mlflow_server, data_dir, browser):
    from selenium.webdriver.common.by import By

    mlflow_run("evaluate", {"task": "pos", "model_uri": "models:/z2h-pos-minilm@source", "langs": "it,tr",
                            "data_dir": str(data_dir), "max_eval_examples": 50}, mlflow_server.uri,
               experiment="z2h-ui")
    experiment = MlflowClient(mlflow_server.uri).get_experiment_by_name("z2h-ui")
    ARTIFACTS.mkdir(exist_ok=True)

    browser.get(f"{mlflow_server.uri}/#/experiments/{experiment.experiment_id}/runs"
                "?orderByKey=metrics.%60score%60&orderByAsc=false")
    wait_for_text(browser, "evaluate/pos/minilm")
    [button for button in browser.find_elements(By.XPATH, "//button") if button.text.strip() == "Columns"][0].click()
    show_column(browser, "score")
    show_column(browser, "k")
    browser.find_element(By.TAG_NAME, "body").send_keys("\ue00c")  # Escape closes the menu
    time.sleep(1)
    browser.save_screenshot(str(ARTIFACTS / "mlflow-ui-runs.png"))
    columns = [h.get_attribute("col-id") for h in browser.find_elements(By.XPATH, "//*[@role='columnheader']")]
    assert "metrics.`score`" in columns and "params.`k`" in columns, columns
    shown = [cell.text for cell in browser.find_elements(By.XPATH, "//*[@role='gridcell' and @col-id='metrics.`score`']")]
    runs = MlflowClient(mlflow_server.uri).search_runs([experiment.experiment_id], "params.lang = 'it'")
    assert any(text.startswith(f"{runs[0].data.metrics['score']:.2f}"[:4]) for text in shown), shown
    ks = [cell.text for cell in browser.find_elements(By.XPATH, "//*[@role='gridcell' and @col-id='params.`k`']")]
    assert "0" in ks, ks

    browser.get(f"{mlflow_server.uri}/#/models/z2h-pos-minilm")
    body = wait_for_text(browser, "Version 1")
    browser.save_screenshot(str(ARTIFACTS / "mlflow-ui-model.png"))
    assert "z2h-pos-minilm" in body and "source" in body and "task" in body

    # a run's datasets: the scored split of an evaluate run, and the source run's train (+ dev and test behind "+2")
    digest = MlflowClient(mlflow_server.uri).get_run(runs[0].info.run_id).inputs.dataset_inputs[0].dataset.digest
    browser.get(f"{mlflow_server.uri}/#/experiments/{experiment.experiment_id}/runs/{runs[0].info.run_id}")
    body = wait_for_text(browser, f"ud/it/test ({digest})")
    assert "Evaluation" in body[body.index("Datasets"):]
    source_run, _ = pos_source
    source = MlflowClient(mlflow_server.uri).get_run(source_run)
    browser.get(f"{mlflow_server.uri}/#/experiments/{source.info.experiment_id}/runs/{source_run}")
    body = wait_for_text(browser, "ud/en/train (")
    assert "Training" in body[body.index("Datasets"):]
    browser.find_elements(By.XPATH, "//*[normalize-space(text())='+2']")[-1].click()
    body = wait_for_text(browser, "ud/en/test (")
    assert "ud/en/dev (" in body
    browser.save_screenshot(str(ARTIFACTS / "mlflow-ui-datasets.png"))

    # the registered model version's signature
    version = MlflowClient(mlflow_server.uri).get_model_version_by_alias("z2h-pos-minilm", "source").version
    browser.get(f"{mlflow_server.uri}/#/models/z2h-pos-minilm/versions/{version}")
    wait_for_text(browser, "Inputs (1)")
    for section in ("Inputs (1)", "Outputs (1)"):
        browser.find_elements(By.XPATH, f"//*[normalize-space(text())='{section}']")[-1].click()
    body = wait_for_text(browser, "tokens (required)")
    schema = body[body.index("Schema"):]
    assert "Array(string)" in schema and "tags (required)" in schema
    browser.save_screenshot(str(ARTIFACTS / "mlflow-ui-signature.png"))
