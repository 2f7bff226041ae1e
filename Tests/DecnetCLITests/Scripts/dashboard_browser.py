#!/usr/bin/env python3
"""Drives the dashboard in headless Chromium (Debian's chromium and chromedriver, through Selenium) as an operator
would: first login and the forced password change, the fleet, then a real SSH client logs in to a decky and the
event must appear in the live feed without a reload. Writes a screenshot of every page.

usage: dashboard_browser.py BASE_URL FIRST_PASSWORD NEW_PASSWORD DECKY_NAME SCREENSHOT_DIR -- SSH COMMAND...
Prints one JSON line of what it saw; exits non-zero (with the reason) when a step fails.
"""
import json
import os
import subprocess
import sys
import time

import browser_session
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait


def main():
    separator = sys.argv.index("--")
    base, first, new, decky, shots = sys.argv[1:separator]
    ssh_command = sys.argv[separator + 1:]
    os.makedirs(shots, exist_ok=True)
    driver, wait = browser_session.start()
    seen = {}

    def shot(name):
        driver.save_screenshot(os.path.join(shots, name + ".png"))

    try:
        browser_session.first_login(driver, wait, base, first, new, shot)

        driver.get(base + "/deckies")
        fleet = wait.until(EC.presence_of_element_located((By.ID, "fleet"))).text
        seen["fleet_lists_decky"] = decky in fleet
        seen["fleet_running"] = "running" in fleet
        shot("deckies")

        driver.get(base + "/overview")
        wait.until(EC.text_to_be_present_in_element((By.ID, "feed-state"), "live"))
        # A marker that a reload would erase: the event must arrive in this same page.
        driver.execute_script("window.decnetMarker = 'same-page';")
        client = subprocess.run(ssh_command, capture_output=True, text=True, timeout=60)
        seen["ssh_exit"] = client.returncode

        def feed_row_with_root(d):
            rows = d.find_elements(By.CSS_SELECTOR, "#live-feed tbody tr:not(.empty)")
            return [r.text for r in rows if "root" in r.text] or False

        rows = WebDriverWait(driver, 40).until(feed_row_with_root)
        seen["feed_row"] = rows[0]
        seen["same_page"] = driver.execute_script("return window.decnetMarker") == "same-page"
        time.sleep(1)
        shot("overview")

        driver.get(base + "/attackers")
        link = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#attackers a")))
        seen["attacker"] = link.text
        shot("attackers")
        link.click()
        wait.until(EC.presence_of_element_located((By.ID, "traversal")))
        seen["credentials"] = driver.find_element(By.ID, "credentials").text
        shot("attacker")

        driver.get(base + "/logs?field=username:root")
        seen["logs"] = wait.until(EC.presence_of_element_located((By.ID, "logs"))).text.count("\n")
        shot("logs")

        # What the profiler made of the attackers: an identity, its campaign, the bounty board.
        driver.get(base + "/identities")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#identities a"))).click()
        seen["identity_members"] = wait.until(EC.presence_of_element_located((By.ID, "identity-members"))).text
        seen["identity_reasons"] = driver.find_element(By.ID, "identity-reasons").text
        shot("identity")
        driver.find_element(By.CSS_SELECTOR, "#identity-summary a[href^='/campaigns/']").click()
        seen["campaign_actors"] = wait.until(EC.presence_of_element_located((By.ID, "campaign-actors"))).text
        shot("campaign")
        driver.get(base + "/campaigns")
        seen["campaigns"] = wait.until(EC.presence_of_element_located((By.ID, "campaigns"))).text
        driver.get(base + "/bounty")
        seen["bounty_leaders"] = wait.until(EC.presence_of_element_located((By.ID, "bounty-leaders"))).text
        shot("bounty")

        # A canary token that fired tops the overview; the Canary page lists it and revokes it.
        driver.get(base + "/overview")
        seen["canary_alert"] = wait.until(EC.presence_of_element_located((By.ID, "canary-alert"))).text
        shot("canary-alert")
        driver.get(base + "/canary")
        seen["canary_tokens"] = wait.until(EC.presence_of_element_located((By.ID, "canary-tokens"))).text
        shot("canary")
        driver.find_element(By.CSS_SELECTOR, "button[data-canary-revoke]").click()
        wait.until(EC.alert_is_present()).accept()
        # The page reloads once the token is revoked; while it does, the old table's node may be gone.
        reloaded = WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,))
        reloaded.until(lambda d: "revoked" in d.find_element(By.ID, "canary-tokens").text)
        seen["canary_revoked"] = driver.find_element(By.ID, "canary-tokens").text

        # The Webhooks page's test button sends a signed delivery and shows what the receiver answered.
        driver.get(base + "/webhooks")
        wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button[data-webhook-test]"))).click()
        wait.until(lambda d: "delivered" in d.find_element(By.CSS_SELECTOR, ".test-result").text)
        seen["webhook_test"] = driver.find_element(By.CSS_SELECTOR, ".test-result").text
        seen["webhook_deliveries"] = driver.find_element(By.CSS_SELECTOR, "table[id^='deliveries-']").text
        shot("webhooks")
    except Exception as error:  # the test prints what was seen up to the failure
        seen["error"] = f"{type(error).__name__}: {error}"
        try:
            shot("failure")
            seen["page"] = driver.current_url
        except Exception:
            pass
        print(json.dumps(seen))
        driver.quit()
        return 1
    driver.quit()
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
