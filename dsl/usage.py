"""Token usage as a provider reports it in, disjoint :class:`Buckets` out, or a clear rejection.

Providers count the same call differently, and a cost tool that mixes the conventions counts
tokens twice or for free.  Each convention has one reader here, applied once, at the edge:

- ``anthropic``: ``input_tokens`` is the *uncached* input; cache writes
  (``cache_creation_input_tokens``, split by ``cache_creation.ephemeral_5m_input_tokens`` and
  ``ephemeral_1h_input_tokens``) and cache reads (``cache_read_input_tokens``) are counted apart.
- ``openai``: ``prompt_tokens`` (chat) or ``input_tokens`` (responses) is the *whole* input;
  ``cached_tokens`` (and, where reported, ``cache_write_tokens``) are parts of it, and
  ``reasoning_tokens`` are part of the output.
- ``gemini``: ``promptTokenCount`` is the whole input and ``cachedContentTokenCount`` part of it;
  ``thoughtsTokenCount`` is reported beside ``candidatesTokenCount`` and billed as output.
- ``opentelemetry``: ``gen_ai.usage.input_tokens`` is the whole input, with
  ``gen_ai.usage.cache_read.input_tokens`` and ``gen_ai.usage.cache_creation.input_tokens`` in it.
- ``inclusive``: genai-prices' ``Usage``, ``input_tokens`` the whole input with
  ``cache_write_tokens`` (``cache_write_1h_tokens`` of them for an hour) and ``cache_read_tokens``
  in it.

Usage that fits no convention — a part larger than its whole, a negative or fractional count, a
5-minute/1-hour split that does not add up — raises :class:`UsageError`; nothing is guessed.
Cache writes are 5-minute writes unless the usage says they are for an hour; an output count
that is not reported is 0, an input count that is not reported is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .formulas import Buckets

ZERO = Decimal(0)


class UsageError(ValueError):
    """Reported usage that no convention explains; the message says what does not add up."""

    code = "E504"


def from_anthropic(usage: Mapping[str, Any]) -> Buckets:
    """Anthropic's usage: uncached input, cache writes and cache reads reported apart."""
    uncached = _count(usage, "input_tokens", required=True)
    written = _count(usage, "cache_creation_input_tokens")
    split = usage.get("cache_creation") or {}
    five = _count(split, "ephemeral_5m_input_tokens")
    hour = _count(split, "ephemeral_1h_input_tokens")
    if split and five + hour != written:
        raise UsageError(
            f"cache_creation splits {five + hour} written tokens (5 min {five}, 1 h {hour}) "
            f"but cache_creation_input_tokens is {written}"
        )
    if not split:
        five = written
    return Buckets(
        uncached=uncached,
        write_5m=five,
        write_1h=hour,
        read=_count(usage, "cache_read_input_tokens"),
        output=_count(usage, "output_tokens"),
    )


def from_openai(usage: Mapping[str, Any]) -> Buckets:
    """OpenAI usage, chat or responses: cached tokens inside the input, reasoning in the output."""
    chat = "prompt_tokens" in usage
    total = _count(usage, "prompt_tokens" if chat else "input_tokens", required=True)
    details = usage.get("prompt_tokens_details" if chat else "input_tokens_details") or {}
    read = _count(details, "cached_tokens") or _count(usage, "cached_tokens")
    written = _count(details, "cache_write_tokens") or _count(details, "cache_creation_tokens")
    output = _count(usage, "completion_tokens" if chat else "output_tokens")
    reasoning_details = usage.get("completion_tokens_details" if chat else "output_tokens_details")
    _part_of(_count(reasoning_details or {}, "reasoning_tokens"), "reasoning", output, "output")
    return _split_inclusive(total, read=read, write_5m=written, output=output)


def from_gemini(usage: Mapping[str, Any]) -> Buckets:
    """Gemini's ``usageMetadata``: cached content inside the prompt, thoughts beside the answer."""
    total = _count(usage, "promptTokenCount", required=True) + _count(
        usage, "toolUsePromptTokenCount"
    )
    read = _count(usage, "cachedContentTokenCount")
    output = _count(usage, "candidatesTokenCount") + _count(usage, "thoughtsTokenCount")
    return _split_inclusive(total, read=read, output=output)


def from_opentelemetry(attributes: Mapping[str, Any]) -> Buckets:
    """OpenTelemetry GenAI span attributes: cache reads and writes inside the input count."""
    total = _count(attributes, "gen_ai.usage.input_tokens", required=True)
    return _split_inclusive(
        total,
        read=_count(attributes, "gen_ai.usage.cache_read.input_tokens"),
        write_5m=_count(attributes, "gen_ai.usage.cache_creation.input_tokens"),
        output=_count(attributes, "gen_ai.usage.output_tokens"),
    )


def from_inclusive(usage: Mapping[str, Any]) -> Buckets:
    """genai-prices' ``Usage``: the input total with cache writes and reads inside it."""
    hour = _count(usage, "cache_write_1h_tokens")
    five = _count(usage, "cache_write_5m_tokens")
    if usage.get("cache_write_tokens") is None:
        written = five + hour
    else:
        written = _count(usage, "cache_write_tokens")
        if usage.get("cache_write_5m_tokens") is None:
            five = written - hour
    if five < 0 or five + hour != written:
        raise UsageError(
            f"cache writes of {written} tokens do not split into 5-minute and 1-hour writes "
            f"of {max(five, ZERO)} and {hour}"
        )
    return _split_inclusive(
        _count(usage, "input_tokens", required=True),
        read=_count(usage, "cache_read_tokens"),
        write_5m=five,
        write_1h=hour,
        output=_count(usage, "output_tokens"),
    )


CONVENTIONS: dict[str, Callable[[Mapping[str, Any]], Buckets]] = {
    "anthropic": from_anthropic,
    "openai": from_openai,
    "gemini": from_gemini,
    "opentelemetry": from_opentelemetry,
    "inclusive": from_inclusive,
}

#: The convention each provider's own API reports in.
PROVIDER_CONVENTIONS = {"anthropic": "anthropic", "openai": "openai", "google": "gemini"}


def normalise(usage: Mapping[str, Any], convention: str) -> Buckets:
    """Read ``usage`` through the named convention into disjoint buckets."""
    try:
        reader = CONVENTIONS[convention]
    except KeyError:
        known = ", ".join(CONVENTIONS)
        raise UsageError(f"unknown usage convention '{convention}' (known: {known})") from None
    if not isinstance(usage, Mapping):
        raise UsageError(f"usage is a mapping of token counts, not {type(usage).__name__}")
    return reader(usage)


def _split_inclusive(
    total: Decimal,
    *,
    read: Decimal,
    output: Decimal,
    write_5m: Decimal = ZERO,
    write_1h: Decimal = ZERO,
) -> Buckets:
    """Disjoint buckets from an input total that contains its cache reads and writes."""
    _part_of(read + write_5m + write_1h, "cached and cache-write", total, "input")
    return Buckets(
        uncached=total - read - write_5m - write_1h,
        write_5m=write_5m,
        write_1h=write_1h,
        read=read,
        output=output,
    )


def _part_of(part: Decimal, what: str, whole: Decimal, of: str) -> None:
    if part > whole:
        raise UsageError(
            f"{part} {what} tokens cannot be part of {whole} {of} tokens: this usage fits no "
            "convention (is the input total reported without its cached tokens?)"
        )


def _count(usage: Mapping[str, Any], key: str, *, required: bool = False) -> Decimal:
    value = usage.get(key) if isinstance(usage, Mapping) else None
    if value is None:
        if required:
            raise UsageError(f"usage has no '{key}'")
        return ZERO
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise UsageError(f"'{key}' is a token count, not {value!r}")
    try:
        count = Decimal(str(value))
    except ArithmeticError:
        raise UsageError(f"'{key}' is a token count, not {value!r}") from None
    if not count.is_finite() or count < 0 or count != count.to_integral_value():
        raise UsageError(f"'{key}' is a whole number of tokens, 0 or more, not {value!r}")
    return count
