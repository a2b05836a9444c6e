"""Spiders of the quotestream project."""
