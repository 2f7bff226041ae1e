"""Logs in with paramiko (password), runs one command and prints its output and exit status.

Usage: ssh_paramiko.py HOST PORT USER PASSWORD COMMAND
"""
import sys

import paramiko

host, port, user, password, command = sys.argv[1:6]
client = paramiko.SSHClient()
client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
client.connect(host, port=int(port), username=user, password=password, look_for_keys=False, allow_agent=False,
               timeout=10)
print("transport:", client.get_transport().remote_version)
stdin, stdout, stderr = client.exec_command(command)
print(stdout.read().decode(), end="")
print("status:", stdout.channel.recv_exit_status())
client.close()
