#!/usr/bin/env python3
"""Publish one send request to a simhook fleet and print the events that come
back, with nats-py (pip install nats-py).

    python3 fleet.py nats://127.0.0.1:4222 +33612345678 "Hello from the fleet"

The request goes to simhook.send (any gateway with a free phone takes it;
publish to simhook.send.<gateway> to pick one). Its "id" is yours: a gateway
that took it and crashed before acknowledging hands it on, and the id stops
it from being sent twice. Put the same id in "tag" to find its send_sms
event among the others.
"""
import asyncio
import json
import sys
import uuid

import nats


async def main(url: str, to: str, text: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    # Every gateway publishes every event to simhook.events.<gateway>.<type>;
    # Nats-Msg-Id is the event's webhook_random_id, so the stream holds each
    # event once. The headers carry both signatures, as a webhook's would.
    sub = await js.subscribe("simhook.events.>", ordered_consumer=True)
    request_id = str(uuid.uuid4())
    request = {"id": request_id, "to": to, "text": text, "tag": request_id}
    ack = await js.publish("simhook.send", json.dumps(request).encode())
    print(f"request {request_id} queued in {ack.stream} (seq {ack.seq})")

    async for msg in sub.messages:
        _, _, gateway, event_type = msg.subject.split(".", 3)
        event = json.loads(msg.data)  # as a webhook with format: json
        body = event["body"]
        print(f"{gateway} {event_type}: {json.dumps(body, ensure_ascii=False)}")
        if event_type == "send_sms" and body.get("tag") == request_id:
            print(f"sent by phone {body['origin']} of {gateway}, status {body['status']}")
            break
    await nc.close()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: fleet.py NATS_URL TO TEXT")
    asyncio.run(main(*sys.argv[1:]))
