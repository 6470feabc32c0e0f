#!/usr/bin/env python3
"""Opens a gospy flame graph SVG in headless Chromium (selenium + chromium-driver) and reports,
as one JSON object on stdout, what a user would see: the frames drawn, the details shown when
hovering FRAME, the search box's highlight and "Matched" share for TERM, the zoom on FRAME,
and a screenshot saved to SCREENSHOT.

    flamegraph_check.py SVG SCREENSHOT FRAME TERM
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main():
    svg, screenshot, frame_name, term = sys.argv[1:5]
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    result = {}
    try:
        driver.get("file://" + svg)
        WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
        frames = driver.find_elements(By.CSS_SELECTOR, "g.frame")
        result["frames"] = len(frames)
        # Drawn: frames with a visible box on screen.
        result["drawn"] = sum(1 for f in frames if f.find_element(By.TAG_NAME, "rect").rect["width"] > 0)
        result["title"] = driver.find_element(By.ID, "title").text

        target = next(f for f in frames if f.get_attribute("data-name") == frame_name)
        ActionChains(driver).move_to_element(target.find_element(By.TAG_NAME, "rect")).perform()
        result["hover"] = driver.find_element(By.ID, "details").text

        driver.find_element(By.ID, "search").click()
        WebDriverWait(driver, 10).until(lambda d: d.switch_to.alert)
        alert = driver.switch_to.alert
        alert.send_keys(term)
        alert.accept()
        result["matched"] = driver.find_element(By.ID, "matched").text
        highlighted = [f.get_attribute("data-name") for f in frames
                       if f.find_element(By.TAG_NAME, "rect").get_attribute("fill") == "rgb(230,0,230)"]
        result["highlighted"] = highlighted
        driver.save_screenshot(screenshot)

        before = float(target.find_element(By.TAG_NAME, "rect").get_attribute("width"))
        target.find_element(By.TAG_NAME, "rect").click()
        result["zoom"] = {"before": before, "after": float(target.find_element(By.TAG_NAME, "rect").get_attribute("width")),
                          "reset_shown": driver.find_element(By.ID, "unzoom").is_displayed()}
    finally:
        driver.quit()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
