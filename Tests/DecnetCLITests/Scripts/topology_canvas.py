#!/usr/bin/env python3
"""Drives a MazeNET topology's canvas in headless Chromium (Debian's chromium and chromedriver, through Selenium):
first login and the forced password change, then the topology's page: its nodes and their live states, the
attacker's path drawn across the segments, a node dragged to a new place (kept: still there after a reload).

usage: topology_canvas.py BASE_URL FIRST_PASSWORD NEW_PASSWORD TOPOLOGY_ID ATTACKER_IP DRAG_NODE SCREENSHOT_DIR
Prints one JSON line of what it saw; exits non-zero (with the reason) when a step fails.
"""
import json
import os
import sys

import browser_session
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC


def main():
    base, first, new, topology, attacker, drag, shots = sys.argv[1:8]
    os.makedirs(shots, exist_ok=True)
    driver, wait = browser_session.start()
    seen = {}

    def path_line():
        lines = driver.find_elements(By.CSS_SELECTOR, "#canvas polyline.attack-path")
        return next((line for line in lines if line.get_attribute("data-attacker") == attacker), None)

    def transform(node):
        return driver.find_element(By.CSS_SELECTOR, '#canvas g[data-node="%s"]' % node).get_attribute("transform")

    try:
        browser_session.first_login(driver, wait, base, first, new)

        driver.get(base + "/topology")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#topologies a[href="/topology/%s"]' % topology)))
        seen["listed"] = True
        driver.get(base + "/topology/" + topology)
        wait.until(lambda d: path_line() is not None)
        nodes = driver.find_elements(By.CSS_SELECTOR, "#canvas g.node")
        seen["nodes"] = sorted(node.get_attribute("data-node") for node in nodes)
        seen["states"] = {node.get_attribute("data-node"): node.get_attribute("data-state")
                          for node in driver.find_elements(By.CSS_SELECTOR, "#canvas g.decky")}
        seen["route"] = path_line().get_attribute("data-route")
        seen["points"] = len(path_line().get_attribute("points").split())
        row = driver.find_element(By.CSS_SELECTOR, '#topology-paths tr[data-attacker="%s"]' % attacker)
        seen["path_row"] = row.text
        seen["mutation"] = driver.find_element(By.ID, "topology-mutation").get_attribute("data-state")
        driver.save_screenshot(os.path.join(shots, "topology.png"))

        before = transform(drag)
        target = driver.find_element(By.CSS_SELECTOR, '#canvas g[data-node="%s"] circle' % drag)
        ActionChains(driver).click_and_hold(target).move_by_offset(60, 40).move_by_offset(60, 40).release().perform()
        wait.until(lambda d: d.find_element(By.ID, "canvas").get_attribute("data-saved") == drag)
        seen["moved_from"] = before
        seen["moved_to"] = transform(drag)
        driver.refresh()
        wait.until(lambda d: path_line() is not None)
        seen["after_reload"] = transform(drag)
        driver.save_screenshot(os.path.join(shots, "topology-moved.png"))
    except Exception as error:  # noqa: BLE001 - report whatever stopped the walk, with what was seen so far
        print(json.dumps(seen))
        print("failed: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        driver.quit()
        sys.exit(1)
    driver.quit()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
