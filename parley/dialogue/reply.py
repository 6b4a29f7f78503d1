"""What the assistant answers in one turn: messages in order, each with optional buttons."""

from __future__ import annotations

from dataclasses import dataclass, field

from parley.dialogue.texts import Button


@dataclass(frozen=True)
class Said:
    text: str
    buttons: tuple[Button, ...] = ()


@dataclass
class Reply:
    messages: list[Said] = field(default_factory=list)

    def say(self, text: str, buttons: list[Button] | None = None) -> None:
        self.messages.append(Said(text, tuple(buttons or ())))

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.messages]

    def __bool__(self) -> bool:
        return bool(self.messages)
