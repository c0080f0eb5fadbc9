"""The OpenAI-compatible HTTP backend: client, wire format, SSE parser and retry policy."""
