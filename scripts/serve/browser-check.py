#!/usr/bin/env python3
"""Drives gospy serve's web page in headless Chromium (Debian's chromium + chromium-driver):
the process list, a click on one process, its grouped goroutines, a click on its flame graph
link (a recording of a few seconds, then the SVG); saves screenshots.

    browser-check.py URL PID SCREENSHOT_DIR

Prints one JSON object: what the pages showed (the test compares it with the target).
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def main():
    url, pid, shots = sys.argv[1], sys.argv[2], sys.argv[3]
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(url + "/")
        rows = driver.find_elements(By.CSS_SELECTOR, "table#processes tr.process")
        listed = [row.find_element(By.CSS_SELECTOR, "a.pid").text for row in rows]
        driver.save_screenshot(shots + "/processes.png")
        # A click on the target's pid, as a person would.
        driver.find_element(By.LINK_TEXT, pid).click()
        title = driver.find_element(By.TAG_NAME, "h1").text
        total = driver.find_element(By.ID, "total").text
        groups = []
        for group in driver.find_elements(By.CSS_SELECTOR, "div.group"):
            groups.append({
                "count": int(group.find_element(By.CSS_SELECTOR, "span.count").text),
                "states": group.find_element(By.CSS_SELECTOR, "span.states").text,
                "stack": group.find_element(By.TAG_NAME, "pre").text,
            })
        links = {e.get_attribute("id"): e.get_attribute("href") for e in driver.find_elements(By.CSS_SELECTOR, "a[id]")}
        driver.save_screenshot(shots + "/process.png")
        url_process = driver.current_url
        # The flame graph link: the page loads once the recording ends (seconds, not minutes).
        driver.find_element(By.ID, "flamegraph").click()
        root = driver.execute_script("return document.documentElement.tagName")
        frames = driver.execute_script("""
            return Array.from(document.querySelectorAll('g.frame')).map(function (g) {
                var r = g.querySelector('rect').getBoundingClientRect();
                return {name: g.getAttribute('data-name'), samples: parseInt(g.getAttribute('data-samples'), 10),
                        width: r.width, height: r.height};
            });""")
        flame = {
            "root": root,
            "url": driver.current_url,
            "title": driver.execute_script("var t = document.getElementById('title'); return t ? t.textContent : null"),
            "subtitle": driver.execute_script("var t = document.getElementById('subtitle'); return t ? t.textContent : null"),
            "total": driver.execute_script("return document.documentElement.getAttribute('data-total')"),
            "frames": frames,
        }
        driver.save_screenshot(shots + "/flamegraph.png")
        print(json.dumps({"listed": listed, "title": title, "total": total, "groups": groups,
                          "links": links, "url": url_process, "flamegraph": flame}))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
