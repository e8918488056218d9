"""The OpenAI-compatible chat client: the only reader of the OPENAI_* environment.

Works with OpenAI and with any server that speaks its API (vLLM, Ollama, llama.cpp). Retries with
backoff on connection errors, 429 and 5xx are the openai client's own (max_retries). Every failure
becomes an LLMError whose hint says how to fix it or how to fall back to the offline mode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from rag.errors import ConfigError, RagError
from rag.text.llm_tokens import count_tokens
from rag.types import Usage

if TYPE_CHECKING:
    from rag.config import LLMSettings

FALLBACK = "or answer offline with --offline (RAG_LLM=extractive)"
MAX_CHARS_PER_TOKEN = 64  # far above any real text (cl100k averages ~4): more means the server ignored max_tokens


class LLMError(RagError):
    """The LLM could not give an answer (unreachable, timed out, rate-limited, refused, garbled)."""


@dataclass(frozen=True)
class StreamEnd:
    """The last item of LLM.stream: token usage and why the model stopped ('stop', or 'length' when it
    ran into max_tokens and the answer is cut off)."""

    usage: Usage
    finish_reason: str

    @property
    def truncated(self) -> bool:
        """Whether the model stopped because it hit max_tokens."""
        return self.finish_reason == "length"


def llm_configured() -> bool:
    """Whether the environment points at an LLM (an API key or a server URL)."""
    return bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))


def use_llm(settings: LLMSettings) -> bool:
    """Whether answers go through the LLM under these settings (RAG_LLM=auto follows the environment)."""
    return settings.llm == "openai" or (settings.llm == "auto" and llm_configured())


def base_url() -> str:
    """Where requests go (for messages; never includes the key)."""
    return os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"


def api_key_set() -> bool:
    """Whether OPENAI_API_KEY is set (its value is never read anywhere else)."""
    return bool(os.environ.get("OPENAI_API_KEY"))


def openai_client(timeout: float, retries: int) -> Any:
    """An openai.OpenAI client for OPENAI_API_KEY / OPENAI_BASE_URL, used for chat and for embeddings."""
    import openai

    # Local servers (llama.cpp, Ollama, vLLM) usually need no key, but the client insists on one.
    return openai.OpenAI(api_key=os.environ.get("OPENAI_API_KEY") or "not-needed",
                         base_url=os.environ.get("OPENAI_BASE_URL") or None, timeout=timeout, max_retries=retries)


def make_client(settings: LLMSettings) -> Any:
    """The chat client, with the timeout and retry settings; a clear error when nothing is configured."""
    if not llm_configured():
        raise ConfigError("the LLM mode needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)",
                          f"set OPENAI_API_KEY, point OPENAI_BASE_URL at a server, {FALLBACK}")
    return openai_client(settings.llm_timeout, settings.llm_retries)


class LLM:
    """A chat model behind the OpenAI API. `client` is anything with openai's `chat.completions.create`."""

    def __init__(self, settings: LLMSettings, client: Any = None) -> None:
        self.settings = settings
        self.model = settings.llm_model
        self.client = client if client is not None else make_client(settings)
        self._model_checked = client is not None  # a client given in code is trusted as it is

    def check_model(self) -> None:
        """Once: when the server lists its models and ours is not among them, say so. llama.cpp's servers
        answer requests for any model name with the model they have, so the name would never be checked."""
        if self._model_checked or not os.environ.get("OPENAI_BASE_URL"):  # OpenAI itself answers 404 by itself
            return
        self._model_checked = True
        try:
            served = [m.id for m in self.client.with_options(max_retries=0, timeout=5).models.list()]
        except Exception:  # noqa: BLE001  no listing (or no server): the request itself will tell
            return
        if served and self.model not in served and f"{self.model}:latest" not in served:  # Ollama: name = name:latest
            raise LLMError(f"the LLM at {base_url()} has no model {self.model!r} (it serves {', '.join(served[:5])})",
                           f"set RAG_LLM_MODEL to a model the server serves, {FALLBACK}")

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None,
                 extra: dict[str, Any] | None = None) -> tuple[str, Usage]:
        """The whole reply and its token usage. extra: more arguments of the request (e.g. response_format)."""
        self.check_model()
        try:
            resp = self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens or self.settings.llm_max_tokens,
                temperature=self.settings.llm_temperature, **(extra or {}),
            )
            choice = resp.choices[0] if getattr(resp, "choices", None) else None
            text = choice.message.content if choice is not None else None
        except Exception as e:  # noqa: BLE001  every failure becomes an LLMError with a hint
            raise self._error(e) from e
        if not isinstance(text, str):
            raise LLMError(f"the LLM at {base_url()} sent a reply without text", f"check the server, {FALLBACK}")
        return text, self._usage(getattr(resp, "usage", None), messages, text)

    def stream(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Iterator[str | StreamEnd]:
        """Text deltas as the model writes them, then a StreamEnd (usage, finish reason) as the last item.

        A stream that ends without a finish reason was cut short (a server stops a stream that way when
        another request interrupts it): that is an error like a dropped connection, never a whole answer."""
        self.check_model()
        parts: list[str] = []
        usage = None
        finish = None
        budget = max_tokens or self.settings.llm_max_tokens
        # A server that ignores max_tokens could stream megabytes into the terminal, the page and the checks.
        limit = max(budget, 256) * MAX_CHARS_PER_TOKEN
        try:
            chunks = self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=budget,
                temperature=self.settings.llm_temperature, stream=True, stream_options={"include_usage": True},
            )
            for chunk in chunks:
                usage = getattr(chunk, "usage", None) or usage
                for choice in getattr(chunk, "choices", None) or []:
                    finish = getattr(choice, "finish_reason", None) or finish
                    delta = getattr(getattr(choice, "delta", None), "content", None)
                    if not delta:
                        continue
                    if not isinstance(delta, str):  # openai builds chunks unvalidated: 42 would reach the UI
                        raise LLMError(f"the LLM at {base_url()} streamed a {type(delta).__name__} as text",
                                       f"check that OPENAI_BASE_URL is an OpenAI-compatible API, {FALLBACK}")
                    if sum(map(len, parts)) + len(delta) > limit:
                        raise LLMError(f"the LLM at {base_url()} sent more than {limit} characters, far more than "
                                       f"{budget} tokens (RAG_LLM_MAX_TOKENS)",
                                       f"the server ignores max_tokens; check it, {FALLBACK}")
                    parts.append(delta)
                    yield delta
            if finish is None:
                raise LLMError(f"the LLM at {base_url()} ended the stream without finishing the answer",
                               f"the server may have been interrupted by another request; ask again, {FALLBACK}")
        except Exception as e:  # noqa: BLE001
            err = self._error(e)
            if parts:
                err = LLMError(f"the answer broke off after {sum(map(len, parts))} characters: {err.message}",
                               "the partial answer above is incomplete; ask again, " + FALLBACK)
            raise err from e
        yield StreamEnd(self._usage(usage, messages, "".join(parts)), finish)

    def _usage(self, reported: Any, messages: list[dict[str, str]], text: str) -> Usage:
        """The server's token counts when it sent them, else tiktoken's count of what was sent and received."""
        if reported is not None and getattr(reported, "prompt_tokens", None) is not None:
            return Usage(int(reported.prompt_tokens), int(reported.completion_tokens or 0), "server")
        prompt = sum(count_tokens(m["content"]) + 4 for m in messages) + 3  # per-message framing, as OpenAI counts
        return Usage(prompt, count_tokens(text), "tiktoken")

    def _error(self, e: Exception) -> LLMError:
        """A clear message and remedy for whatever the client raised."""
        import httpx
        import openai

        where, model = base_url(), self.model
        if isinstance(e, LLMError):
            return e
        timeout, retries = self.settings.llm_timeout, self.settings.llm_retries
        # the openai client wraps errors of the request, but lets httpx's own through while a stream is read
        if isinstance(e, openai.APITimeoutError):  # openai's timeout is per read, and each retry waits as long
            tries = f" ({retries + 1} attempts of {timeout:g} s each)" if retries else ""
            return LLMError(f"the LLM at {where} did not answer within {timeout:g} s{tries}",
                            f"raise RAG_LLM_TIMEOUT (or lower RAG_LLM_RETRIES to give up sooner), {FALLBACK}")
        if isinstance(e, httpx.TimeoutException):  # while a stream is read: never retried
            return LLMError(f"the LLM at {where} sent nothing for {timeout:g} s while streaming its answer",
                            f"raise RAG_LLM_TIMEOUT, {FALLBACK}")
        if isinstance(e, openai.APIConnectionError):
            return LLMError(f"cannot reach the LLM at {where}",
                            f"check that the server runs and OPENAI_BASE_URL is right, {FALLBACK}")
        if isinstance(e, (httpx.TransportError, httpx.StreamError)):  # while a stream is read
            return LLMError(f"the connection to the LLM at {where} was lost ({type(e).__name__})",
                            f"check that the server still runs, {FALLBACK}")
        if isinstance(e, openai.AuthenticationError):
            return LLMError(f"the LLM at {where} refused the API key", f"check OPENAI_API_KEY, {FALLBACK}")
        if isinstance(e, openai.NotFoundError):
            return LLMError(f"the LLM at {where} has no model {model!r}",
                            f"set RAG_LLM_MODEL to a model the server serves, {FALLBACK}")
        if isinstance(e, openai.RateLimitError):
            wait = _retry_after(e)
            asks = f"; it asks to wait {wait:g} s" if wait else ""
            # openai gives up at once when the server asks for more than 2 minutes: say how many retries it made
            taken = e.request.headers.get("x-stainless-retry-count", retries) if e.request is not None else retries
            return LLMError(f"the LLM at {where} is rate-limiting (still after {taken} retries{asks})",
                            f"wait {f'{wait:g} s' if wait else 'a minute'} and ask again, {FALLBACK}")
        if isinstance(e, openai.APIStatusError):
            return LLMError(f"the LLM at {where} answered with HTTP {e.status_code}: {_short(e)}",
                            f"check the server's log, {FALLBACK}")
        if isinstance(e, openai.APIError):  # an error object sent inside an HTTP 200 stream
            return LLMError(f"the LLM at {where} reported an error: {_short(e)}", f"check the server's log, {FALLBACK}")
        return LLMError(f"the LLM at {where} sent a reply that could not be read ({type(e).__name__}: {_short(e)})",
                        f"check that OPENAI_BASE_URL is an OpenAI-compatible API, {FALLBACK}")


def _retry_after(e: Exception) -> float | None:
    """The wait in seconds a 429 response asked for (Retry-After or retry-after-ms), if it said."""
    headers = getattr(getattr(e, "response", None), "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000 or None
        return float(headers.get("retry-after") or 0) or None
    except ValueError:  # an HTTP date: openai honours it, the message just does not repeat it
        return None


def _short(e: Exception) -> str:
    """A one-line excerpt of an exception message (no request details, never the key)."""
    text = " ".join(str(getattr(e, "message", None) or e).split())
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        text = text.replace(key, "***")
    return text[:200]
