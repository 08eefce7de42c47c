"""Verifies webhook deliveries the way a receiver would, with `standardwebhooks`, the Standard
Webhooks reference library from PyPI. Reads JSON from standard input: {"secret": "whsec_…",
"deliveries": [{"headers": {...}, "body": "..."}]}. For each delivery prints a line: "ok <type>"
when its signature verifies (and "tampered refused" when the same delivery with its body
changed does not), or "bad <reason>"."""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

given = json.load(sys.stdin)
hook = Webhook(given["secret"])
for delivery in given["deliveries"]:
    headers, body = delivery["headers"], delivery["body"]
    try:
        payload = hook.verify(body, headers)
    except WebhookVerificationError as e:
        print(f"bad {e}")
        continue
    try:
        hook.verify(body.replace("}", " }", 1), headers)
        print("bad a changed body verified")
        continue
    except WebhookVerificationError:
        pass
    print(f"ok {payload['type']} tampered refused")
