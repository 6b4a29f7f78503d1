"""Rasa custom actions: thin adapters from the tracker to `parley` (SPEC §2)."""
