"""The newest load's answer, and only it, shown: a screen's load runs on a thread, which
cannot be stopped, so a load superseded by a newer one (another report, a period, a reload
told of a change) still answers, and may answer after the newer one."""

from __future__ import annotations

from textual.message import Message


class Answer(Message):
    """A load's answer, carrying the number `Loads.start` gave the load."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number


class Loads:
    """Numbers the loads of one screen as they are asked for (on the event loop)."""

    def __init__(self) -> None:
        self.started = 0

    def start(self) -> int:
        self.started += 1
        return self.started

    def is_newest(self, answer: Answer) -> bool:
        return answer.number == self.started
