"""Encoders (any Hugging Face AutoModel) and task heads."""
