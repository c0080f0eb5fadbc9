"""A model's own tokenizer without its weights: llama.cpp loads a GGUF with ``vocab_only``.

The HTTP backend uses it where a server reports no token counts (llama-cpp-python's server sends no
``usage`` when streaming): the prompt is rendered with the model's chat template and tokenized exactly
as the in-process backend does, the answer is tokenized as text. Loading takes ~0.1 s and a few MB.

An answer re-tokenized from its text can differ from the tokens the engine generated (a tokenizer need
not round-trip), which is why every count carries its source (``tokenizer`` here).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.errors import BackendError
from bench.models.engine import init_engine

__all__ = ["PLAIN_STOP", "GgufTokenizer", "chat_formatter", "plain_transcript", "token_text", "tokenize"]

PLAIN_STOP = "\nUser:"


def plain_transcript(messages: Sequence[dict[str, str]]) -> str:
    """Chat messages as a ``User:/Assistant:`` transcript, for models without a chat template."""
    lines = []
    for m in messages:
        if m["role"] == "system":
            lines.append(f"{m['content']}\n")
        else:
            lines.append(f"{'User' if m['role'] == 'user' else 'Assistant'}: {m['content']}")
    return "\n".join(lines) + "\nAssistant:"


def tokenize(ll: Any, vocab: Any, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
    """llama.cpp's tokenizer over a vocabulary handle (the in-process backend shares this)."""
    data = text.encode("utf-8")
    cap = len(data) + 16
    buf = (ctypes.c_int32 * cap)()
    n = ll.llama_tokenize(vocab, data, len(data), buf, cap, add_special, parse_special)
    if n < 0:
        cap = -n
        buf = (ctypes.c_int32 * cap)()
        n = ll.llama_tokenize(vocab, data, len(data), buf, cap, add_special, parse_special)
    return list(buf[:n])


def token_text(ll: Any, vocab: Any, token: int) -> str:
    if token < 0:
        return ""
    raw = ll.llama_vocab_get_text(vocab, token)
    return raw.decode("utf-8", "replace") if raw else ""


def chat_formatter(ll: Any, model: Any, vocab: Any) -> Any:
    """The model's chat template as llama-cpp-python's Jinja2 formatter, or None for a base model."""
    template = ll.llama_model_chat_template(model, None)
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(
        template=template.decode("utf-8", "replace"),
        eos_token=token_text(ll, vocab, ll.llama_vocab_eos(vocab)),
        bos_token=token_text(ll, vocab, ll.llama_vocab_bos(vocab)),
    )


class GgufTokenizer:
    """Tokenize and apply the chat template of a GGUF model, loading only its vocabulary."""

    def __init__(self, path: Path) -> None:
        ll = init_engine()
        self._ll = ll
        params = ll.llama_model_default_params()
        params.vocab_only = True
        model = ll.llama_model_load_from_file(str(path).encode(), params)
        if not model:
            raise BackendError(f"{path}: llama.cpp could not read the tokenizer of this GGUF file")
        self._model = model
        self._vocab = ll.llama_model_get_vocab(model)
        self.path = path
        self._formatter: Any = chat_formatter(ll, model, self._vocab)

    @property
    def has_chat_template(self) -> bool:
        return self._formatter is not None

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        return tokenize(self._ll, self._vocab, text, add_special=add_special, parse_special=parse_special)

    def count_text(self, text: str) -> int:
        """Tokens in a piece of generated text (no BOS, special tokens not parsed)."""
        return len(self.tokenize(text, add_special=False, parse_special=False)) if text else 0

    def count_prompt(self, text: str) -> int:
        """Tokens of a raw prompt as a completion server feeds it (BOS if the model adds one)."""
        return len(self.tokenize(text, add_special=True, parse_special=False))

    def count_chat(self, messages: Sequence[dict[str, str]]) -> int | None:
        """Tokens of chat messages rendered with the model's template (None without a template)."""
        if self._formatter is None:
            return None
        result = self._formatter(messages=list(messages))
        return len(self.tokenize(result.prompt, add_special=not result.added_special, parse_special=True))

    def close(self) -> None:
        if self._model:
            self._ll.llama_model_free(self._model)
            self._model = None
