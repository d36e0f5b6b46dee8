"""The one training loop, its configuration, batching and evaluation."""
