"""``[http]`` in a device profile: how an HTTP backend (``openai_http``, ``anthropic_messages``) talks to
its endpoint.

The endpoint's identity stays top-level in the profile (``base_url``, ``model``, ``api_key_env``, as
docs/http.md names them); this table holds the connection settings: which API to call, headers, timeouts,
the retry budget and the provider's rate limits. Everything here is written to the manifest, so nothing
here may be a secret: the key is read from the environment variable that ``api_key_env`` names, and
headers that carry credentials are refused with the fix.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["SECRET_HEADERS", "HttpSettings", "check_base_url"]

# Header names that carry credentials: their values would be written to the manifest if allowed here.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie"}
)


class HttpSettings(BaseModel):
    """Connection settings of an HTTP profile (all optional; defaults suit hosted APIs)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # which endpoint a task goes to: "auto" sends chat tasks to /chat/completions and raw prompts and
    # synthetic shapes to /completions (and chat tasks too, as a plain transcript, when the tokenizer
    # below has no chat template); "chat" sends everything as chat; "completions" everything as text
    api: Literal["auto", "chat", "completions"] = "auto"
    # the model's tokenizer (catalog name or GGUF path): counts tokens when the server sends no usage,
    # sizes synthetic shape prompts, and tells "auto" whether the model has a chat template
    tokenizer: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"  # "" for headers that take the bare key (Azure's api-key)
    # request parameters: extra_body is merged into every request (e.g. repeat_penalty = 1.0 for
    # llama_cpp.server, whose default 1.1 differs from the in-process greedy sampler); omit_params drops
    # parameters a model refuses (reasoning models reject temperature)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    omit_params: list[str] = Field(default_factory=list)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    stream_usage: bool = (
        True  # stream_options.include_usage (OpenAI sends no usage when streaming without it)
    )
    # how a synthetic shape asks the server to ignore EOS: llama.cpp's llama-server and vLLM take
    # ignore_eos, llama_cpp.server and vLLM take min_tokens; hosted APIs take neither ("none": the model
    # may stop early, and the record shows how many tokens it produced)
    shape_eos: Literal["none", "ignore_eos", "min_tokens"] = "none"
    preflight: Literal["models", "request", "none"] = "models"
    # native Anthropic Messages backend (docs/http.md): the cache breakpoints' TTL on agent and trace
    # steps ("off": none; --prefix-cache off and --cache-ttl set it for a run), and extended thinking's
    # token budget (None: no thinking; the API's minimum is 1024)
    prompt_cache: Literal["off", "5m", "1h"] = "5m"
    thinking_budget_tokens: int | None = Field(default=None, ge=1024)
    # timeouts: connect; dispatch → first body byte; gap between body reads; dispatch → stream end
    connect_timeout_s: float = Field(default=10.0, gt=0)
    first_byte_timeout_s: float = Field(default=120.0, gt=0)
    idle_timeout_s: float = Field(default=60.0, gt=0)
    total_timeout_s: float = Field(default=900.0, gt=0)
    # retries (429 honours Retry-After; 5xx and connection failures back off exponentially with jitter)
    max_retries: int = Field(default=4, ge=0, le=100)
    max_retry_wait_s: float = Field(default=120.0, ge=0)  # total waiting per request
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=20.0, ge=0)
    # the provider's limits: the client paces itself below them rather than collecting 429s
    requests_per_minute: float | None = Field(default=None, gt=0)
    max_concurrency: int | None = Field(default=None, ge=1)

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in SECRET_HEADERS:
                raise ValueError(
                    f"header '{name}' carries a credential and would be written to the manifest; "
                    "put the key in an environment variable and name it with api_key_env "
                    "(and auth_header/auth_scheme if the endpoint wants another header)"
                )
        return value


def check_base_url(url: str) -> str:
    """An endpoint address: http(s), a host, and no credentials in it (they would reach the manifest)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url '{url}' is not an http(s) URL (e.g. http://127.0.0.1:8080/v1)")
    if parts.username or parts.password or "key=" in parts.query.lower():
        raise ValueError(
            "base_url carries a credential and would be written to the manifest; "
            "put the key in an environment variable and name it with api_key_env"
        )
    return url.rstrip("/")
