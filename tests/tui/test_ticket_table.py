"""The queue's line-drawn table on its own: widths, styles, growing cells, themes, keys."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from cxdesk.screens.ticket_table import Column, TicketTable

COLUMNS = [
    Column("id", "ID"),
    Column("sla", "SLA", max_width=20, min_width=4),
    Column("customer", "Customer name", max_width=12, min_width=4),
    Column("title", "Title", grow=True, min_width=6),
]


class TableApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield TicketTable(COLUMNS, id="t")

    def on_ticket_table_selected(self, event: TicketTable.Selected) -> None:
        self.chosen.append(event.key)


def rows(count: int) -> list[tuple[str, list[Text]]]:
    return [
        (
            f"T{n}",
            [
                Text(f"T{n}", style="bold red" if n == 1 else ""),
                Text("59m"),
                Text("王芳" if n % 2 else "Alice"),
                Text("快递晚了三天 the parcel was late"),
            ],
        )
        for n in range(count)
    ]


async def test_a_cell_that_grows_widens_its_column() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(TicketTable)
        table.set_rows(rows(3))
        await pilot.pause()
        table.update_cell("T0", "sla", Text("!BREACHED 1h 00m"))
        await pilot.pause()
        assert "!BREACHED 1h 00m" in table.render_line(1).text


async def test_narrow_screens_cut_names_not_headers() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(TicketTable)
        table.set_rows(rows(3))
        await pilot.pause()
        header = table.render_line(0).text
        assert "Customer name" in header and "SLA" in header
        assert all(table.render_line(y).cell_length == 40 for y in range(5))


async def test_cells_keep_their_styles_and_rows_follow_the_theme() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(TicketTable)
        table.set_rows(rows(3))
        await pilot.pause()
        first = [s for s in list(table.render_line(2)) if s.text.strip() == "T1"]
        assert first and first[0].style.bold and first[0].style.color.name == "red"
        before = next(iter(table.render_line(3))).style.bgcolor
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        assert next(iter(table.render_line(3))).style.bgcolor != before


async def test_keys_move_the_cursor_and_enter_selects() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(TicketTable)
        table.set_rows(rows(20))
        table.focus()
        await pilot.press("down", "down")
        assert table.cursor_key == "T2"
        await pilot.press("end")
        assert table.cursor_key == "T19"
        assert table.scroll_offset.y > 0  # the cursor row is on screen
        await pilot.press("home", "pagedown")
        assert table.cursor_row == table.size.height - 2
        await pilot.press("enter")
        await pilot.pause()
        assert app.chosen == [table.cursor_key]


async def test_work_queued_after_drawing_waits_for_the_new_rows_frame() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(TicketTable)
        await pilot.pause()
        ran: list[str] = []
        table.call_after_drawn(lambda: ran.append("nothing to draw"))
        assert ran == ["nothing to draw"]  # no rows waiting: at once
        table.set_rows(rows(3))
        table.call_after_drawn(lambda: ran.append("after"))
        assert ran == ["nothing to draw"]
        await pilot.pause()
        assert ran == ["nothing to draw", "after"]
        assert "T2" in table.render_line(3).text
