#!/usr/bin/env python3
"""Connects to a NATS server over TLS with a client certificate, using nats-py (the NATS project's own Python
library), and round-trips a PING.

usage: nats_tls_connect.py PORT CERT KEY CA
Prints "connected" and exits 0 when the server let it in, else prints "refused: <error>" and exits 1.
"""
import asyncio
import ssl
import sys

import nats


async def main(port, cert, key, ca):
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.load_cert_chain(cert, key)
    try:
        client = await nats.connect(f"tls://127.0.0.1:{port}", tls=context, connect_timeout=5,
                                    allow_reconnect=False, max_reconnect_attempts=0)
        await client.flush(timeout=5)
        await client.close()
    except Exception as error:  # the refusal is the answer this script exists to give
        print(f"refused: {type(error).__name__}: {error}", flush=True)
        return 1
    print("connected", flush=True)
    return 0


sys.exit(asyncio.run(main(int(sys.argv[1]), *sys.argv[2:5])))
