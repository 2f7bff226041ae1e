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
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC


def main():
    base, first, new, topology, attacker, drag, shots = sys.argv[1:8]
    os.makedirs(shots, exist_ok=True)
    driver, wait = browser_session.start()
    seen = {}

    # The canvas is redrawn as live states arrive, so an element found in one call can be gone by the next:
    # each look at it is one script run in the page, which sees one drawing whole.
    snapshot_script = """
        const attacker = arguments[0];
        const canvas = document.getElementById('canvas');
        if (!canvas) return null;
        const line = [...canvas.querySelectorAll('polyline.attack-path')]
            .find(l => l.getAttribute('data-attacker') === attacker);
        const row = document.querySelector('#topology-paths tr[data-attacker="' + attacker + '"]');
        const mutation = document.getElementById('topology-mutation');
        const states = {};
        canvas.querySelectorAll('g.decky').forEach(g => { states[g.getAttribute('data-node')] = g.getAttribute('data-state'); });
        const transforms = {};
        canvas.querySelectorAll('g.node').forEach(g => { transforms[g.getAttribute('data-node')] = g.getAttribute('transform'); });
        return {
            nodes: [...canvas.querySelectorAll('g.node')].map(g => g.getAttribute('data-node')).sort(),
            states: states,
            route: line ? line.getAttribute('data-route') : null,
            points: line ? line.getAttribute('points').trim().split(/\\s+/).length : null,
            path_row: row ? row.innerText : null,
            mutation: mutation ? mutation.getAttribute('data-state') : null,
            saved: canvas.getAttribute('data-saved'),
            transforms: transforms,
        };
    """

    def snapshot():
        return driver.execute_script(snapshot_script, attacker)

    def drawn(d):
        view = snapshot()
        return view if view and view["route"] is not None and view["path_row"] is not None else False

    try:
        browser_session.first_login(driver, wait, base, first, new)

        driver.get(base + "/topology")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#topologies a[href="/topology/%s"]' % topology)))
        seen["listed"] = True
        driver.get(base + "/topology/" + topology)
        view = wait.until(drawn)
        for key in ("nodes", "states", "route", "points", "path_row", "mutation"):
            seen[key] = view[key]
        driver.save_screenshot(os.path.join(shots, "topology.png"))

        before = view["transforms"].get(drag)
        dragged = False
        for _ in range(5):  # a redraw between finding the node and pressing on it makes the node stale: find it again
            try:
                target = driver.find_element(By.CSS_SELECTOR, '#canvas g[data-node="%s"] circle' % drag)
                ActionChains(driver).click_and_hold(target).move_by_offset(60, 40).move_by_offset(60, 40).release().perform()
                dragged = True
                break
            except StaleElementReferenceException:
                continue
        if not dragged:
            raise RuntimeError("the node %s was redrawn under every drag" % drag)
        wait.until(lambda d: (snapshot() or {}).get("saved") == drag)
        seen["moved_from"] = before
        seen["moved_to"] = snapshot()["transforms"].get(drag)
        driver.refresh()
        view = wait.until(drawn)
        seen["after_reload"] = view["transforms"].get(drag)
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
