#!/usr/bin/env python3
"""A real NATS client (nats-py, the NATS project's own Python library) on the DECNET bus's TCP listener.

usage: nats_client.py PORT WANT
Subscribes to `attacker.>` and `decky.*.state`, prints "ready", publishes one message on
`credential.captured`, then prints "SUBJECT PAYLOAD" for each message it receives until it has WANT of them,
waits half a second more for any that should not have come, and exits (1 on a time-out).
"""
import asyncio
import sys

import nats


async def main(port, want):
    client = await nats.connect(f"nats://127.0.0.1:{port}", name="nats-py", connect_timeout=5,
                                allow_reconnect=False)
    received = []
    done = asyncio.Event()

    async def handler(message):
        received.append(f"{message.subject} {message.data.decode()}")
        if len(received) >= want:
            done.set()

    await client.subscribe("attacker.>", cb=handler)
    await client.subscribe("decky.*.state", cb=handler)
    await client.flush(timeout=5)  # a PING answered: both SUBs are in
    print("ready", flush=True)
    await client.publish("credential.captured", b'{"from":"nats-py"}')
    await client.flush(timeout=5)
    try:
        await asyncio.wait_for(done.wait(), timeout=20)
    except asyncio.TimeoutError:
        print(f"timed out with {len(received)} of {want}", flush=True)
        for line in received:
            print(line, flush=True)
        return 1
    await asyncio.sleep(0.5)
    for line in received:
        print(line, flush=True)
    await client.close()
    return 0


sys.exit(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]))))
