"""Where each provider of the price database is reached: its base URL, the variable that holds its key
and the wire format (Anthropic's Messages API; OpenAI-compatible chat completions for the others). The
database has prices but no endpoints, so a device named ``provider:model``
(``--device anthropic:claude-sonnet-4-5``) takes them from here.

Only providers with one public endpoint are listed; each URL's host is the one the database itself
recognises the provider by (its ``api_pattern``: tests/cost/test_price_db.py checks every row). A
provider reached through an account-specific address (AWS Bedrock, Azure, Databricks, Cloudflare, Modal)
has no row: its name prices all the same, and a run takes its address from ``--base-url`` or a profile of
its own with ``base_url`` (``bench.devices.profiles.require_endpoint``), its prices still from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ENDPOINTS", "Endpoint"]


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key_env: str
    backend: Literal["openai_http", "anthropic_messages"] = "openai_http"


ENDPOINTS: dict[str, Endpoint] = {
    # Claude natively (prompt caching works there; Anthropic's OpenAI-compatible endpoint ignores it)
    "anthropic": Endpoint("https://api.anthropic.com/v1", "ANTHROPIC_API_KEY", "anthropic_messages"),
    "avian": Endpoint("https://api.avian.io/v1", "AVIAN_API_KEY"),
    "cerebras": Endpoint("https://api.cerebras.ai/v1", "CEREBRAS_API_KEY"),
    "cohere": Endpoint("https://api.cohere.ai/compatibility/v1", "CO_API_KEY"),
    "deepseek": Endpoint("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "fireworks": Endpoint("https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    "google": Endpoint("https://generativelanguage.googleapis.com/v1beta/openai", "GEMINI_API_KEY"),
    "groq": Endpoint("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "mistral": Endpoint("https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "moonshotai": Endpoint("https://api.moonshot.ai/v1", "MOONSHOT_API_KEY"),
    "novita": Endpoint("https://api.novita.ai/v3/openai", "NOVITA_API_KEY"),
    "openai": Endpoint("https://api.openai.com/v1", "OPENAI_API_KEY"),
    "openrouter": Endpoint("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "perplexity": Endpoint("https://api.perplexity.ai", "PERPLEXITY_API_KEY"),
    "together": Endpoint("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "x-ai": Endpoint("https://api.x.ai/v1", "XAI_API_KEY"),
    "zai": Endpoint("https://api.z.ai/api/paas/v4", "ZAI_API_KEY"),
}
