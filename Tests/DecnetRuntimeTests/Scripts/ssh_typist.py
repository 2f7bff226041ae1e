"""Types into an interactive ssh session at a person's pace (pexpect on a pty): every key its own write, 80-300 ms
apart, a typo corrected with backspace in the first command, a pause of 1.5-3 s before each command; lines given
with a leading '+' are pasted whole instead.

Usage: ssh_typist.py HOST PORT USER PASSWORD COMMAND... Prints the session; exits 0 when the shell answered each
command and the session ended with `exit`. The delays come from a fixed seed, so every run types alike.
"""
import random
import sys
import time

import pexpect

host, port, user, password = sys.argv[1:5]
commands = sys.argv[5:]
rng = random.Random(5424)
child = pexpect.spawn(
    "ssh",
    ["-p", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
     "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password", f"{user}@{host}"],
    encoding="utf-8",
    timeout=60,
)
child.expect("password: ")
child.sendline(password)
prompt = r"[#$] $"
child.expect(prompt)
print(child.before)


def type_line(text, typo):
    for index, key in enumerate(text):
        if typo and index == 1:
            child.send("x")
            time.sleep(rng.uniform(0.15, 0.3))
            child.send("\x7f")
            time.sleep(rng.uniform(0.1, 0.25))
        child.send(key)
        time.sleep(rng.uniform(0.08, 0.3))
    child.send("\r")


for number, command in enumerate(commands):
    time.sleep(rng.uniform(1.5, 3.0))
    if command.startswith("+"):
        child.send(command[1:] + "\r")
    else:
        type_line(command, typo=number == 0)
    child.expect(prompt)
    print(child.before)
time.sleep(rng.uniform(0.5, 1.0))
type_line("exit", typo=False)
child.expect(pexpect.EOF)
print(child.before)
