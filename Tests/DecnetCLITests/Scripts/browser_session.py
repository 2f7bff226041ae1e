"""What the dashboard's browser walks share: headless Chromium (Debian's chromium and chromedriver, through
Selenium) and the first login, with the forced password change, as an operator meets them."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def start():
    """A headless Chromium and a 30 s wait on it."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                     "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    return driver, WebDriverWait(driver, 30)


def log_in(driver, wait, base, password):
    driver.get(base + "/login")
    wait.until(EC.presence_of_element_located((By.ID, "login-form")))
    driver.find_element(By.ID, "username").send_keys("admin")
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()


def first_login(driver, wait, base, first, new, shot=lambda name: None):
    """The admin's first login: sent to /login, made to change the password, logged in with the new one."""
    driver.get(base + "/overview")
    wait.until(EC.url_contains("/login"))
    shot("login")
    log_in(driver, wait, base, first)
    wait.until(EC.url_contains("/password"))
    shot("password")
    driver.find_element(By.ID, "old-password").send_keys(first)
    driver.find_element(By.ID, "new-password").send_keys(new)
    driver.find_element(By.CSS_SELECTOR, "#password-form button").click()
    wait.until(EC.url_contains("/login"))
    log_in(driver, wait, base, new)
    wait.until(EC.url_contains("/overview"))
