"""What both client-SDK suites share: where the server and the emulator are, the models the
server offers (run.sh configures them), and what the emulator answers and records."""

import json
import os
import urllib.request

URL = os.environ["STREAMBED_URL"]
KEY = os.environ["STREAMBED_API_KEY"]
EMULATOR_URL = os.environ["EMULATOR_URL"]

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
EMBEDDED = "SmolLM2-135M-Instruct"


# A 1×1 PNG, in base64.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def emulated_image_blocks():
    """The image blocks of the emulator's last request, as Bedrock received them."""
    last = emulator_records()[-1]["body"]["messages"]
    return [block["image"] for message in last for block in message["content"] if "image" in block]


def emulated_document_blocks():
    """The document blocks of the emulator's last request, as Bedrock received them."""
    last = emulator_records()[-1]["body"]["messages"]
    return [block["document"] for message in last for block in message["content"] if "document" in block]


# The smallest PDF header: the emulator counts its bytes, it does not render it.
PDF = "JVBERi0xLjQK"


def user(text):
    return [{"role": "user", "content": text}]


def emulated_text(prompt):
    """The emulator's scripted answer to `prompt`."""
    return f"Hello from the Streambed emulator. You said: {prompt}"


def emulator_records():
    with urllib.request.urlopen(f"{EMULATOR_URL}/_emulator/requests", timeout=5) as response:
        return json.load(response)
