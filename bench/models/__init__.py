"""The model catalog, the GGUF header reader and the vocab-only tokenizer."""
