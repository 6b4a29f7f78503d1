"""The conversation manager (SPEC §4-§7, §10, §11): one debtor turn read in the context of
what the assistant last asked, answered from the domain packages. Rasa reads the words (intent
and entities); everything that follows from them is decided here, so it is tested here."""
