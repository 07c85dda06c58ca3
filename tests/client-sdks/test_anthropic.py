"""Streambed's Anthropic Messages API through the official `anthropic` Python SDK.

Run by run.sh, which starts the emulator and the server and sets STREAMBED_URL,
STREAMBED_API_KEY and EMULATOR_URL.
"""

import json
import time
import unittest
import uuid

import anthropic
import pydantic

from common import (
    EMBEDDED,
    HAIKU,
    KEY,
    PDF,
    PNG,
    SONNET_45,
    URL,
    emulated_document_blocks,
    emulated_image_blocks,
    emulated_text,
    emulator_records,
    user,
)


WEATHER = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def client(api_key=KEY):
    # ANTHROPIC_BASE_URL is the server's root: the SDK adds /v1/messages itself.
    return anthropic.Anthropic(base_url=URL, api_key=api_key, max_retries=0)


class Models(unittest.TestCase):
    def test_the_sdk_lists_the_models(self):
        ids = [model.id for model in client().models.list()]

        self.assertEqual(ids[:2], [HAIKU, SONNET_45])
        self.assertIn(EMBEDDED, ids)

    def test_the_sdk_pages_through_the_models_a_limit_at_a_time(self):
        every = [model.id for model in client().models.list()]
        first = client().models.list(limit=1)

        self.assertEqual([model.id for model in first.data], every[:1])
        self.assertTrue(first.has_more)
        self.assertEqual([model.id for model in first], every)
        last = client().models.list(limit=2, before_id=every[-1])
        self.assertEqual([model.id for model in last.data], every[-3:-1])
        self.assertFalse(last.has_more, "nothing before the first model")
        with self.assertRaises(anthropic.BadRequestError):
            client().models.list(after_id="no-such-model")

    def test_the_sdk_retrieves_one_model_and_raises_not_found_for_another(self):
        self.assertEqual(client().models.retrieve(SONNET_45).id, SONNET_45)

        with self.assertRaises(anthropic.NotFoundError):
            client().models.retrieve("no-such-model")


class Text(unittest.TestCase):
    def test_a_non_streamed_answer_is_the_upstream_text_with_usage(self):
        message = client().messages.create(model=HAIKU, max_tokens=256, messages=user("hello there"))

        self.assertEqual(message.content[0].text, emulated_text("hello there"))
        self.assertEqual(message.stop_reason, "end_turn")
        self.assertTrue(message.id.startswith("msg_"))
        self.assertEqual(message.model, HAIKU)
        self.assertGreater(message.usage.input_tokens, 0)
        self.assertGreater(message.usage.output_tokens, 0)

    def test_the_stream_helper_assembles_the_upstream_text_and_usage(self):
        with client().messages.stream(model=HAIKU, max_tokens=256, messages=user("stream me")) as stream:
            streamed = "".join(stream.text_stream)
            final = stream.get_final_message()

        self.assertEqual(streamed, emulated_text("stream me"))
        self.assertEqual(final.content[0].text, emulated_text("stream me"))
        self.assertEqual(final.stop_reason, "end_turn")
        self.assertGreater(final.usage.input_tokens, 0)
        self.assertGreater(final.usage.output_tokens, 0)

    def test_raw_stream_events_come_in_the_documented_order(self):
        events = list(client().messages.create(model=HAIKU, max_tokens=256, messages=user("raw"), stream=True))

        types = [event.type for event in events]
        self.assertEqual(types[:2], ["message_start", "content_block_start"])
        self.assertEqual(types[-3:], ["content_block_stop", "message_delta", "message_stop"])
        text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
        self.assertEqual(text, emulated_text("raw"))
        self.assertEqual(events[-2].delta.stop_reason, "end_turn")
        self.assertGreater(events[-2].usage.output_tokens, 0)

    def test_the_embedded_model_answers_text(self):
        message = client().messages.create(model=EMBEDDED, max_tokens=16, messages=user("Say hi."))
        with client().messages.stream(model=EMBEDDED, max_tokens=16, messages=user("Say hi.")) as stream:
            streamed = "".join(stream.text_stream)

        self.assertTrue(message.content[0].text.strip())
        self.assertTrue(streamed.strip())

    def test_count_tokens_counts_the_input(self):
        counted = client().messages.count_tokens(model=HAIKU, messages=user("How many tokens is this?"))
        embedded = client().messages.count_tokens(model=EMBEDDED, messages=user("How many tokens is this?"))

        self.assertGreater(counted.input_tokens, 0)
        self.assertGreater(embedded.input_tokens, 0)


class Tools(unittest.TestCase):
    def round_trip(self, ask):
        """The model calls the tool; it is sent the result and answers with it."""
        messages = user("What is the weather in Paris?")
        called = ask(messages)
        self.assertEqual(called.stop_reason, "tool_use")
        call = next(block for block in called.content if block.type == "tool_use")
        self.assertEqual(call.name, "get_weather")
        self.assertIsInstance(call.input["city"], str)

        messages += [
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in called.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C and sunny"}]},
        ]
        answered = ask(messages)
        self.assertEqual(answered.stop_reason, "end_turn")
        self.assertIn("18 C and sunny", "".join(b.text for b in answered.content if b.type == "text"))

    def test_a_tool_round_trip_without_streaming(self):
        self.round_trip(
            lambda messages: client().messages.create(
                model=HAIKU, max_tokens=256, tools=[WEATHER], messages=messages
            )
        )

    def test_a_tool_round_trip_streamed(self):
        def ask(messages):
            with client().messages.stream(model=HAIKU, max_tokens=256, tools=[WEATHER], messages=messages) as stream:
                return stream.get_final_message()

        self.round_trip(ask)

    def test_the_named_tool_is_called_when_tool_choice_says_so(self):
        other = dict(WEATHER, name="get_time")
        message = client().messages.create(
            model=HAIKU,
            max_tokens=256,
            tools=[WEATHER, other],
            tool_choice={"type": "tool", "name": "get_time"},
            messages=user("What time is it?"),
        )

        self.assertEqual([b.name for b in message.content if b.type == "tool_use"], ["get_time"])

    def test_the_embedded_model_refuses_tools_with_a_bad_request(self):
        with self.assertRaises(anthropic.BadRequestError) as raised:
            client().messages.create(model=EMBEDDED, max_tokens=16, tools=[WEATHER], messages=user("Weather?"))

        self.assertIn("tools", raised.exception.message)


class Images(unittest.TestCase):
    def test_an_image_block_reaches_bedrock_as_an_image(self):
        image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
        answer = client().messages.create(
            model=HAIKU,
            max_tokens=64,
            messages=[{"role": "user", "content": [image, {"type": "text", "text": "What is this?"}]}],
        )

        self.assertEqual(answer.stop_reason, "end_turn")
        self.assertEqual(emulated_image_blocks(), [{"format": "png", "source": {"bytes": PNG}}])

    def test_an_image_by_url_is_a_bad_request(self):
        image = {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}
        with self.assertRaises(anthropic.BadRequestError) as raised:
            client().messages.create(model=HAIKU, max_tokens=64, messages=[{"role": "user", "content": [image]}])
        self.assertIn("inline only", str(raised.exception))


class Documents(unittest.TestCase):
    def test_a_pdf_document_block_reaches_bedrock_as_a_document(self):
        document = {
            "type": "document",
            "title": "Q3 report.pdf",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        }
        answer = client().messages.create(
            model=HAIKU,
            max_tokens=64,
            messages=[{"role": "user", "content": [document, {"type": "text", "text": "Summarise it."}]}],
        )

        self.assertEqual(answer.stop_reason, "end_turn")
        self.assertEqual(
            emulated_document_blocks(), [{"format": "pdf", "name": "Q3 report", "source": {"bytes": PDF}}]
        )

    def test_a_document_by_url_is_a_bad_request(self):
        document = {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}
        with self.assertRaises(anthropic.BadRequestError) as raised:
            client().messages.create(
                model=HAIKU, max_tokens=64, messages=[{"role": "user", "content": [document]}]
            )
        self.assertIn("inline only", str(raised.exception))


class Thinking(unittest.TestCase):
    def test_thinking_on_sonnet_4_5_comes_back_signed_before_the_text(self):
        with client().messages.stream(
            model=SONNET_45,
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=user("Think, then greet me."),
        ) as stream:
            final = stream.get_final_message()

        self.assertEqual(final.content[0].type, "thinking")
        self.assertTrue(final.content[0].thinking)
        self.assertTrue(final.content[0].signature)
        self.assertTrue(any(block.type == "text" and block.text for block in final.content))


class City(pydantic.BaseModel):
    name: str
    population: int


class StructuredOutput(unittest.TestCase):
    def test_parse_with_a_pydantic_model_gets_an_instance_of_it(self):
        message = client().messages.parse(
            model=SONNET_45, max_tokens=256, messages=user("A big city, as JSON?"), output_format=City
        )

        self.assertIsInstance(message.parsed_output, City)
        sent = emulator_records()[-1]["body"]["outputConfig"]["textFormat"]
        self.assertEqual(json.loads(sent["structure"]["jsonSchema"]["schema"])["required"], ["name", "population"])


class Errors(unittest.TestCase):
    def test_throttling_raises_the_rate_limit_error(self):
        with self.assertRaises(anthropic.RateLimitError) as raised:
            client().messages.create(model=HAIKU, max_tokens=64, messages=user("[[scenario:throttle]]"))

        self.assertEqual(raised.exception.body["error"]["type"], "rate_limit_error")
        self.assertGreaterEqual(int(raised.exception.response.headers["retry-after"]), 1)

    def test_a_wrong_key_raises_the_authentication_error(self):
        with self.assertRaises(anthropic.AuthenticationError):
            client(api_key="not-the-key-0123456789").messages.create(
                model=HAIKU, max_tokens=64, messages=user("hello")
            )

    def test_an_unknown_model_raises_not_found(self):
        with self.assertRaises(anthropic.NotFoundError):
            client().messages.create(model="claude-unknown", max_tokens=64, messages=user("hello"))

    def test_a_mid_stream_exception_raises_rather_than_ending_quietly(self):
        prompt = "[[scenario:exception type=internalServerException after=2]]"
        with self.assertRaises(anthropic.APIStatusError) as raised:
            with client().messages.stream(model=HAIKU, max_tokens=256, messages=user(prompt)) as stream:
                for _ in stream.text_stream:
                    pass

        self.assertEqual(raised.exception.body["error"]["type"], "api_error")

    def test_closing_the_stream_early_makes_the_upstream_hang_up_within_a_second(self):
        marker = f"hang-up-{uuid.uuid4()}"
        stream = client().messages.create(
            model=HAIKU,
            max_tokens=256,
            messages=user(f"{marker} [[scenario:slow delay_ms=100 n=200]]"),
            stream=True,
        )
        deltas = 0
        for event in stream:
            deltas += event.type == "content_block_delta"
            if deltas == 3:
                break

        stream.close()
        closed = time.monotonic()

        while True:
            mine = [r for r in emulator_records() if marker in json.dumps(r["body"])]
            if mine and mine[-1]["outcome"]["kind"] == "client-hung-up":
                break
            self.assertLess(time.monotonic() - closed, 1.0, f"no hang-up recorded: {mine}")
            time.sleep(0.05)
        self.assertLess(mine[-1]["deltasSent"], 20)


if __name__ == "__main__":
    unittest.main()
