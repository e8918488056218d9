"""A scripted chat model behind the real openai client interface (no LLM server can run here).

`ScriptedClient` implements what rag/llm/client.py calls: `client.chat.completions.create(model=..., messages=...,
max_tokens=..., temperature=..., stream=..., stream_options=...)`, and answers with real openai types
(`ChatCompletion`, an iterator of `ChatCompletionChunk`) and real openai exceptions. Use it as
`LLM(settings, client=ScriptedClient([...]))`.

A reply in the queue is one of:
- a str: the model's text;
- a callable(messages) -> str: text computed from the prompt it was sent;
- an Exception: raised by `create()` (as the openai client raises after its retries);
- a `Reply`: text plus server usage, chunk size, and a failure part-way through a stream.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Union

import httpx
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from openai.types.chat.chat_completion_message import ChatCompletionMessage
from openai.types.completion_usage import CompletionUsage

URL = "http://scripted.invalid/v1/chat/completions"

Text = Union[str, Callable[[list[dict[str, str]]], str]]


@dataclass
class Reply:
    """One scripted reply with the server-side details a plain string cannot say."""

    text: Text
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens) the server reports; None: none
    chunk_chars: int = 5  # a stream sends the text in pieces of this many characters
    fail_after: int | None = None  # a stream raises `error` after this many text chunks
    error: Exception | None = None

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.text(messages) if callable(self.text) else self.text


Scripted = Union[str, Callable[[list[dict[str, str]]], str], Exception, Reply]


# --------------------------------------------------------------------------- real openai exceptions

def _request() -> httpx.Request:
    return httpx.Request("POST", URL)


def timeout_error() -> openai.APITimeoutError:
    return openai.APITimeoutError(request=_request())


def connection_error() -> openai.APIConnectionError:
    return openai.APIConnectionError(message="Connection error.", request=_request())


def status_error(cls: type[openai.APIStatusError], status: int, message: str) -> openai.APIStatusError:
    response = httpx.Response(status, request=_request(), json={"error": {"message": message}})
    return cls(message, response=response, body={"error": {"message": message}})


def not_found_error() -> openai.NotFoundError:
    return status_error(openai.NotFoundError, 404, "The model `gpt-nope` does not exist")  # type: ignore[return-value]


def rate_limit_error() -> openai.RateLimitError:
    return status_error(openai.RateLimitError, 429, "Rate limit reached")  # type: ignore[return-value]


# --------------------------------------------------------------------------- the client

class _Completions:
    def __init__(self, client: ScriptedClient) -> None:
        self._client = client

    def create(self, *, model: str, messages: list[dict[str, str]], max_tokens: int | None = None,
               temperature: float | None = None, stream: bool = False, stream_options: dict | None = None,
               **extra: Any) -> ChatCompletion | Iterator[ChatCompletionChunk]:
        return self._client._create(model=model, messages=messages, max_tokens=max_tokens, temperature=temperature,
                                    stream=stream, stream_options=stream_options, **extra)


class _Chat:
    def __init__(self, client: ScriptedClient) -> None:
        self.completions = _Completions(client)


class ScriptedClient:
    """The openai client's chat interface, answering from a queue of scripted replies."""

    def __init__(self, replies: list[Scripted] | None = None) -> None:
        self.replies: list[Scripted] = list(replies or [])
        self.calls: list[dict[str, Any]] = []  # every create() call's keyword arguments
        self.chat = _Chat(self)
        self._ids = itertools.count(1)

    @property
    def messages(self) -> list[list[dict[str, str]]]:
        """The messages of every call, in order."""
        return [c["messages"] for c in self.calls]

    def add(self, *replies: Scripted) -> None:
        self.replies.extend(replies)

    def _create(self, **kwargs: Any) -> ChatCompletion | Iterator[ChatCompletionChunk]:
        # What the real client would reject before sending anything.
        assert isinstance(kwargs["model"], str) and kwargs["model"], kwargs["model"]
        msgs = kwargs["messages"]
        assert msgs and all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in msgs), msgs
        assert kwargs["stream_options"] is None or kwargs["stream"], "stream_options is only allowed with stream=True"
        self.calls.append(kwargs)
        if not self.replies:
            raise AssertionError("ScriptedClient: no scripted reply left")
        item = self.replies.pop(0)
        if isinstance(item, Exception):
            raise item
        reply = item if isinstance(item, Reply) else Reply(item)
        text = reply.render(msgs)
        if kwargs["stream"]:
            include_usage = bool((kwargs["stream_options"] or {}).get("include_usage"))
            return self._chunks(kwargs["model"], text, reply, include_usage)
        return self._completion(kwargs["model"], text, reply)

    def _usage(self, reply: Reply) -> CompletionUsage | None:
        if reply.usage is None:
            return None
        p, c = reply.usage
        return CompletionUsage(prompt_tokens=p, completion_tokens=c, total_tokens=p + c)

    def _completion(self, model: str, text: str, reply: Reply) -> ChatCompletion:
        return ChatCompletion(
            id=f"chatcmpl-{next(self._ids)}", object="chat.completion", created=1_700_000_000, model=model,
            choices=[Choice(index=0, finish_reason="stop",
                            message=ChatCompletionMessage(role="assistant", content=text))],
            usage=self._usage(reply),
        )

    def _chunks(self, model: str, text: str, reply: Reply, include_usage: bool) -> Iterator[ChatCompletionChunk]:
        cid = f"chatcmpl-{next(self._ids)}"

        def chunk(delta: ChoiceDelta | None, finish: str | None = None, usage: CompletionUsage | None = None):
            choices = [] if delta is None else [ChunkChoice(index=0, delta=delta, finish_reason=finish)]
            return ChatCompletionChunk(id=cid, object="chat.completion.chunk", created=1_700_000_000, model=model,
                                       choices=choices, usage=usage)

        yield chunk(ChoiceDelta(role="assistant", content=""))
        pieces = [text[i : i + reply.chunk_chars] for i in range(0, len(text), reply.chunk_chars)]
        for i, piece in enumerate(pieces):
            if reply.fail_after is not None and i == reply.fail_after:
                raise reply.error or connection_error()
            yield chunk(ChoiceDelta(content=piece))
        if reply.fail_after is not None and reply.fail_after >= len(pieces):
            raise reply.error or connection_error()
        yield chunk(ChoiceDelta(), finish="stop")
        usage = self._usage(reply)
        if include_usage and usage is not None:
            yield chunk(None, usage=usage)  # the usage-only last chunk of stream_options.include_usage
