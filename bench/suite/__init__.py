"""Prompt suites: prompts/*.toml|*.jsonl -> PromptSuite, and the answer checks tasks declare."""
