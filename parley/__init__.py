"""Parley's domain core: no Rasa, no web framework."""
