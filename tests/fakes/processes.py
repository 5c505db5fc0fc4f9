"""What a test sends the decoding process (tokens/sources/offload.py) to learn where it ran. A module of
its own: the worker imports what it is sent by name, and this imports nothing that needs Django."""

import os


def process_id() -> int:
    return os.getpid()
