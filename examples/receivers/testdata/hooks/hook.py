"""Runs the example Python receiver with a test event handler.

Usage: SIMHOOK_TEST_CONTROL=DIR python3 hook.py RECEIVER.py PORT

The handler is steered by files in DIR: while "block" exists it creates
"entered" and waits; then, while "fail" exists, it raises.
"""

import importlib.util
import os
import sys
import time


def test_handle_event(event_type, body):
    control = os.environ["SIMHOOK_TEST_CONTROL"]
    block = os.path.join(control, "block")
    if os.path.exists(block):
        open(os.path.join(control, "entered"), "w").close()
        give_up = time.monotonic() + 120  # never hang a test run for good
        while os.path.exists(block) and time.monotonic() < give_up:
            time.sleep(0.01)
    if os.path.exists(os.path.join(control, "fail")):
        raise RuntimeError("test handler: told to fail")


path = sys.argv[1]
spec = importlib.util.spec_from_file_location("receiver", path)
receiver = importlib.util.module_from_spec(spec)
spec.loader.exec_module(receiver)
receiver.handle_event = test_handle_event
sys.argv = [path] + sys.argv[2:]
receiver.main()
