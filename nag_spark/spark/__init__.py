"""Spark layer: distributed extraction, scoring and selection over Delta tables."""
