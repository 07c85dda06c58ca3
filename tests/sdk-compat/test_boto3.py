"""The emulator through boto3: the same scenarios and results as the Rust SDK tests."""

import json
import os
import pathlib
import ssl
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError, SSLError

URL = os.environ["EMULATOR_URL"]
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
UNICODE = json.loads((pathlib.Path(__file__).parent / "unicode-deltas.json").read_text())


def client():
    config = Config(retries={"mode": "standard", "total_max_attempts": 3})
    return boto3.client("bedrock-runtime", endpoint_url=URL, region_name="us-east-1", config=config)


def user(text):
    return [{"role": "user", "content": [{"text": text}]}]


def stream(text, **kwargs):
    """Returns (deltas, stop reason, usage) of a ConverseStream call."""
    response = client().converse_stream(modelId=MODEL, messages=user(text), **kwargs)
    deltas, stop, usage = [], None, None
    for event in response["stream"]:
        if "contentBlockDelta" in event:
            deltas.append(event["contentBlockDelta"]["delta"]["text"])
        elif "messageStop" in event:
            stop = event["messageStop"]["stopReason"]
        elif "metadata" in event:
            usage = event["metadata"]["usage"]
    return deltas, stop, usage


def records():
    with urllib.request.urlopen(f"{URL}/_emulator/requests") as response:
        return json.load(response)


class Boto3Compat(unittest.TestCase):
    def test_converse_stream_ok(self):
        deltas, stop, usage = stream("hi there")
        self.assertEqual("".join(deltas), "Hello from the Streambed emulator. You said: hi there")
        self.assertEqual(len(deltas), 9)
        self.assertEqual(stop, "end_turn")
        self.assertEqual(usage, {"inputTokens": 2, "outputTokens": 9, "totalTokens": 11})

    def test_converse_ok(self):
        response = client().converse(modelId=MODEL, messages=user("hello"))
        self.assertEqual(response["output"]["message"]["content"][0]["text"], "Hello from the Streambed emulator. You said: hello")
        self.assertEqual(response["stopReason"], "end_turn")
        self.assertEqual(response["usage"]["outputTokens"], 8)

    def test_unicode(self):
        deltas, _, _ = stream("[[scenario:unicode]]")
        self.assertEqual(deltas, UNICODE)

    def test_deny_stream_refuses_only_streaming(self):
        with self.assertRaises(ClientError) as refused:
            stream("[[scenario:deny-stream]]")
        self.assertEqual(refused.exception.response["Error"]["Code"], "AccessDeniedException")
        self.assertEqual(refused.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        answer = client().converse(modelId=MODEL, messages=user("[[scenario:deny-stream]] hi"))
        self.assertTrue(answer["output"]["message"]["content"][0]["text"].endswith("hi"))

    def test_throttling_is_retried_three_times(self):
        with self.assertRaises(ClientError) as throttled:
            stream("[[scenario:throttle]] boto3")
        self.assertEqual(throttled.exception.response["Error"]["Code"], "ThrottlingException")
        mine = [r for r in records() if "boto3" in json.dumps(r["body"])]
        self.assertEqual([r["attempt"] for r in mine], [1, 2, 3])
        self.assertEqual({r["httpVersion"] for r in mine}, {"HTTP/1.1"})

    def test_mid_stream_exception_after_deltas(self):
        response = client().converse_stream(modelId=MODEL, messages=user("[[scenario:exception type=throttlingException after=3]]"))
        deltas = []
        with self.assertRaises(EventStreamError) as failed:
            for event in response["stream"]:
                if "contentBlockDelta" in event:
                    deltas.append(event["contentBlockDelta"]["delta"]["text"])
        self.assertEqual("".join(deltas), "lorem0 ipsum1 dolor2 ")
        self.assertEqual(failed.exception.response["Error"]["Code"], "throttlingException")

    def test_echo_returns_the_request(self):
        deltas, _, _ = stream("[[scenario:echo]] hi", system=[{"text": "Be brief."}], inferenceConfig={"maxTokens": 64})
        echoed = json.loads("".join(deltas))
        self.assertEqual(echoed["system"], [{"text": "Be brief."}])
        self.assertEqual(echoed["inferenceConfig"], {"maxTokens": 64})
        self.assertEqual(echoed["messages"][0]["content"][0]["text"], "[[scenario:echo]] hi")


    def test_tool_use_round_trip(self):
        tools = {
            "tools": [{"toolSpec": {
                "name": "get_weather",
                "inputSchema": {"json": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                    "required": ["city", "days"],
                }},
            }}],
            "toolChoice": {"tool": {"name": "get_weather"}},
        }
        question = user("What is the weather in Paris?")
        response = client().converse_stream(modelId=MODEL, messages=question, toolConfig=tools)
        call, fragments, stops, stop = None, [], [], None
        for event in response["stream"]:
            if "contentBlockStart" in event:
                call = event["contentBlockStart"]["start"]["toolUse"]
                self.assertEqual(event["contentBlockStart"]["contentBlockIndex"], 0)
            elif "contentBlockDelta" in event:
                fragments.append(event["contentBlockDelta"]["delta"]["toolUse"]["input"])
            elif "contentBlockStop" in event:
                stops.append(event["contentBlockStop"]["contentBlockIndex"])
            elif "messageStop" in event:
                stop = event["messageStop"]["stopReason"]
        self.assertTrue(call["toolUseId"].startswith("tooluse_"))
        self.assertEqual(call["name"], "get_weather")
        self.assertGreaterEqual(len(fragments), 2)
        arguments = json.loads("".join(fragments))
        self.assertEqual(arguments, {"city": "Paris", "days": 1})
        self.assertEqual((stops, stop), ([0], "tool_use"))

        answer = client().converse(
            modelId=MODEL,
            toolConfig=tools,
            messages=question + [
                {"role": "assistant", "content": [{"toolUse": {**call, "input": arguments}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": call["toolUseId"], "content": [{"text": "Sunny, 21 °C"}]}}]},
            ],
        )
        self.assertEqual(answer["output"]["message"]["content"][0]["text"], "The tool `get_weather` returned: Sunny, 21 °C.")
        self.assertEqual(answer["stopReason"], "end_turn")

    def test_count_tokens(self):
        question = "What is the capital of France?"
        converse = client().count_tokens(modelId=MODEL, input={"converse": {
            "system": [{"text": "Be brief."}],
            "messages": user(question),
        }})
        body = json.dumps({
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": question}],
        })
        invoked = client().count_tokens(modelId=MODEL, input={"invokeModel": {"body": body.encode()}})
        used = client().converse(modelId=MODEL, system=[{"text": "Be brief."}], messages=user(question))
        self.assertEqual(converse["inputTokens"], 8)
        self.assertEqual(invoked["inputTokens"], 8)
        self.assertEqual(used["usage"]["inputTokens"], 8)
        self.assertIn("count-tokens", {r["operation"] for r in records()})


class Boto3OverTls(unittest.TestCase):
    """`streambed-emulator --tls`: boto3 trusts its throwaway CA through `verify=`."""

    def client(self, verify):
        return boto3.client(
            "bedrock-runtime", endpoint_url=os.environ["EMULATOR_TLS_URL"], region_name="us-east-1", verify=verify
        )

    def test_converse_stream_with_the_ca_trusted(self):
        response = self.client(os.environ["EMULATOR_CA"]).converse_stream(modelId=MODEL, messages=user("hi"))
        deltas = [e["contentBlockDelta"]["delta"]["text"] for e in response["stream"] if "contentBlockDelta" in e]
        self.assertEqual("".join(deltas), "Hello from the Streambed emulator. You said: hi")
        context = ssl.create_default_context(cafile=os.environ["EMULATOR_CA"])
        with urllib.request.urlopen(f"{os.environ['EMULATOR_TLS_URL']}/_emulator/requests", context=context) as r:
            # urllib3 offers no ALPN h2: the emulator answers it over HTTP/1.1, as Bedrock would.
            self.assertEqual(json.load(r)[-1]["httpVersion"], "HTTP/1.1")

    def test_the_ca_is_not_trusted_by_default(self):
        with self.assertRaises(SSLError):
            self.client(True).converse(modelId=MODEL, messages=user("hi"))


if __name__ == "__main__":
    unittest.main()
