"""Readers for the study's data formats and the data directory layout."""
