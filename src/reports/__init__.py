"""Figures and an HTML page from a sweep's results tables and saved models."""
