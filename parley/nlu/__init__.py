"""SPEC §11: reading a debtor's message — the intent model (trained inside Rasa, scored by Rasa
or in the gateway) and the parse Rasa's NLU pipeline makes of one message."""
