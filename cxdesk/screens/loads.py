"""An answer to a screen's load shown unless a newer one is on screen already: a load runs
on a thread, which cannot be stopped, so one superseded by a newer load (another report, a
period, a reload told of a change) still answers, and may answer after the newer one. An
older answer arriving first is shown until the newer comes: a load slower than the changes
that ask for it again still shows, and a failed newer load leaves the older one's answer."""

from __future__ import annotations

import threading

from textual.message import Message


class Answer(Message):
    """A load's answer, carrying the number `Loads.start` gave the load."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number


class Loads:
    """Numbers the loads of one screen as they are asked for (on the event loop, or in a
    worker that asks for a load once its own work is done), and remembers the number of the
    answer on screen."""

    def __init__(self) -> None:
        self._started = 0
        self._shown = 0
        self._numbering = threading.Lock()

    def start(self) -> int:
        with self._numbering:
            self._started += 1
            return self._started

    def shows(self, answer: Answer) -> bool:
        """Whether to show `answer` (on the event loop): no newer one is on screen. If so, it
        is the one on screen from now on."""
        if answer.number <= self._shown:
            return False
        self._shown = answer.number
        return True
