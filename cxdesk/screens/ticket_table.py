"""A table of one page of tickets, drawn a line at a time.

Textual's DataTable renders every visible cell through Rich's padding and cropping; a queue
page changes wholesale on every view switch, filter and refresh, and that per-cell work is
most of the time from key to frame. Here a row is one Text cut to the column widths and
turned into a single Strip, cached until the rows or the width change. Rows are keyed by
ticket id so the cursor can stay on its ticket across refreshes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from cxdesk.screens.format import plain

GAP = 2  # blank cells between columns
DRAWN_CELLS_KEPT = 5000
LINE_CLASSES = {"header": "header", "cursor": "cursor", "even": "even-row", "marked": "marked"}
NARROW_GAP = 1  # when the columns do not fit at their natural widths


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    max_width: int | None = None  # as wide as the widest cell, up to this
    min_width: int = 4  # a narrow terminal shrinks the column down to this, with an ellipsis
    grow: bool = False  # takes the width the other columns leave


class TicketTable(ScrollView, can_focus=True):
    """Rows of cells under a fixed header; `up`/`down`/`pageup`/`pagedown`/`home`/`end` move
    the cursor, `enter` selects."""

    COMPONENT_CLASSES = {
        "ticket-table--header",
        "ticket-table--cursor",
        "ticket-table--even-row",
        "ticket-table--marked",
    }
    DEFAULT_CSS = """
    TicketTable {
        background: $surface;
    }
    TicketTable > .ticket-table--header {
        text-style: bold;
        background: $panel;
        color: $foreground;
    }
    TicketTable > .ticket-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    TicketTable:blur > .ticket-table--cursor {
        background: $block-cursor-blurred-background;
        text-style: $block-cursor-blurred-text-style;
    }
    TicketTable > .ticket-table--even-row {
        background: $surface-lighten-1 20%;
    }
    TicketTable > .ticket-table--marked {
        color: $text-accent;
        text-style: bold underline;
    }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Cursor up", show=False),
        Binding("down", "move(1)", "Cursor down", show=False),
        Binding("pageup", "move_page(-1)", "Page Up", show=False),
        Binding("pagedown", "move_page(1)", "Page Down", show=False),
        Binding("home", "move_to(0)", "Top", show=False),
        Binding("end", "move_to(-1)", "Bottom", show=False),
        Binding("enter", "select", "Open", show=False),
    ]

    # No repaint of the whole table: the watcher redraws the two lines that changed.
    cursor_row: reactive[int] = reactive(0, init=False, repaint=False)

    class Selected(Message):
        """`enter` (or a click on the row under the cursor) on a row."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, columns: list[Column], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = columns
        self.keys: list[str] = []
        self.cells: list[list[Text]] = []
        self.marked: frozenset[str] = frozenset()  # rows marked for a bulk action
        self._index: dict[str, int] = {}
        self._widths: list[int] = [len(column.label) for column in columns]
        self._layout: tuple[int, list[int], int] | None = None  # (for width, widths, gap)
        self._lines: dict[int, Strip] = {}  # row index → its rendered line, cursor aside
        self._cells_drawn: dict[tuple[Any, ...], list[Segment]] = {}
        self._styles: dict[str, Style] = {}
        self._rows_drawn = True  # False from `set_rows` until the new rows are rendered
        self._after_drawn: list[Callable[[], object]] = []

    # -- data ------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.keys)

    @property
    def cursor_key(self) -> str | None:
        return self.keys[self.cursor_row] if self.keys else None

    def set_rows(self, rows: list[tuple[str, list[Text]]], *, keep_cursor: bool = True) -> None:
        """Show these rows. With `keep_cursor` (a refresh of the same list) the cursor stays on
        its ticket if it is still listed; otherwise it starts at the top."""
        kept = self.cursor_key if keep_cursor else None
        self.keys = [key for key, _ in rows]
        self.cells = [cells for _, cells in rows]
        self._index = {key: i for i, key in enumerate(self.keys)}
        self._fit_columns()
        self._size_to_rows()
        target = self._index.get(kept, self.cursor_row) if kept is not None else 0
        self.cursor_row = max(0, min(target, len(self.keys) - 1))
        if not keep_cursor:
            self.scroll_to(y=0, animate=False)
        self._scroll_to_cursor()
        self._rows_drawn = False
        self.refresh()

    def set_columns(self, columns: list[Column], rows: list[tuple[str, list[Text]]]) -> None:
        """Show other columns (a saved view's), with the rows' cells for them."""
        self.columns = columns
        self._widths = [len(column.label) for column in columns]
        self._cells_drawn.clear()
        self.set_rows(rows)

    def call_after_drawn(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the frame showing the rows set last has gone out (now, if it
        has already). Work that would compete with drawing them, such as a count or a focus
        change that restyles the screen, waits for the frame instead of delaying it."""
        if self._rows_drawn:
            callback()
        else:
            self._after_drawn.append(callback)

    def update_cell(self, key: str, column: str, value: Text) -> None:
        """Change one cell; only its line is drawn again, and only if the text changed."""
        row = self._index.get(key)
        at = next((i for i, c in enumerate(self.columns) if c.key == column), None)
        if row is None or at is None:  # not listed, or a column the view does not show
            return
        if self.cells[row][at] == value:
            return
        self.cells[row][at] = value
        if value.cell_len > self._widths[at]:  # a clock grew a digit: widen the column
            self._fit_columns()
            self.refresh()
            return
        self._lines.pop(row, None)
        self.refresh_line(row + 1)  # the header is line 0

    def set_marked(self, keys: frozenset[str]) -> None:
        """Draw these rows as marked (keys not shown are kept for when they are)."""
        changed = self.marked ^ keys
        self.marked = keys
        for key in changed:
            row = self._index.get(key)
            if row is not None:
                self._lines.pop(row, None)
                self.refresh_line(row + 1)

    def get_row(self, key: str) -> list[Text]:
        return self.cells[self._index[key]]

    def get_row_at(self, index: int) -> list[Text]:
        return self.cells[index]

    def _fit_columns(self) -> None:
        """Each column as wide as its widest cell, within its bounds and never narrower than
        its header; the growing column gets what is left of the screen."""
        widths = []
        for at, column in enumerate(self.columns):
            floor = _floor(column)
            widest = max([floor] + [row[at].cell_len for row in self.cells])
            widths.append(min(widest, max(column.max_width or widest, floor)))
        self._widths = widths
        self._layout = None
        self._lines.clear()

    def _layout_widths(self, width: int) -> tuple[list[int], int]:
        """Column widths and the gap for a screen `width` cells wide: natural widths if they
        fit; else the widest columns give up a cell at a time down to their minimums; the
        growing column takes what is left."""
        if self._layout is not None and self._layout[0] == width:
            return self._layout[1], self._layout[2]
        columns = self.columns
        widths = list(self._widths)
        grow = [i for i, c in enumerate(columns) if c.grow]
        natural = sum(w for i, w in enumerate(widths) if i not in grow)
        gap = GAP if natural + GAP * len(columns) + 20 <= width else NARROW_GAP
        room = width - gap * len(columns) - sum(columns[i].min_width for i in grow)
        while sum(w for i, w in enumerate(widths) if i not in grow) > room:
            spare = [(w - _floor(columns[i]), i) for i, w in enumerate(widths) if i not in grow]
            most, at = max(spare)
            if most <= 0:
                break  # every column at its minimum: the line is cut at the edge
            widths[at] -= 1
        rest = width - gap * len(columns) - sum(w for i, w in enumerate(widths) if i not in grow)
        for i in grow:
            widths[i] = max(rest // len(grow), columns[i].min_width)
        self._layout = (width, widths, gap)
        return widths, gap

    # -- drawing ---------------------------------------------------------------------------

    def _size_to_rows(self) -> None:
        """Rows plus the header, never less than the screen: a page that fits leaves the
        size (and so the screen's layout) alone whatever its length."""
        self.virtual_size = Size(self.size.width, max(len(self.keys) + 1, self.size.height))

    def on_resize(self) -> None:
        self._lines.clear()
        self._size_to_rows()

    def notify_style_update(self) -> None:
        self._styles.clear()  # a theme change: every line is drawn again in the new colours
        self._cells_drawn.clear()
        self._lines.clear()
        super().notify_style_update()

    def _style(self, name: str) -> Style:
        """The base style of a kind of line ("row", "even", "cursor", "header"), resolved once
        per theme rather than once per line."""
        style = self._styles.get(name)
        if style is None:
            style = self.rich_style
            if name != "row":
                style += self.get_component_rich_style(f"ticket-table--{LINE_CLASSES[name]}")
            self._styles[name] = style
        return style

    def render_line(self, y: int) -> Strip:
        if not self._rows_drawn:
            self._rows_drawn = True
            for callback in self._after_drawn:  # run once this frame has been handed over
                self.call_after_refresh(callback)
            self._after_drawn.clear()
        width = self.size.width
        if y == 0:
            header = [Text(column.label) for column in self.columns]
            return self._strip(header, self._style("header"), width)
        row = int(self.scroll_offset.y) + y - 1
        if row >= len(self.keys):
            return Strip.blank(width, self._style("row"))
        marked = self.keys[row] in self.marked
        if row == self.cursor_row:
            cursor = self._style("cursor")
            return self._strip(
                self.cells[row], cursor + self._style("marked") if marked else cursor, width
            )
        line = self._lines.get(row)
        if line is None or line.cell_length != width:
            style = self._style("marked" if marked else "even" if row % 2 else "row")
            line = self._lines[row] = self._strip(self.cells[row], style, width)
        return line

    def _strip(self, cells: list[Text], base: Style, width: int) -> Strip:
        widths, gap = self._layout_widths(width)
        left, right = Segment(" " * (gap // 2), base), Segment(" " * (gap - gap // 2), base)
        segments: list[Segment] = []
        for cell, cell_width in zip(cells, widths, strict=True):
            segments.append(left)
            segments.extend(self._cell(cell, cell_width, base))
            segments.append(right)
        return Strip(segments).adjust_cell_length(width, base)

    def _cell(self, cell: Text, width: int, base: Style) -> list[Segment]:
        """One cell cut or padded to `width`, drawn once per text, style and width: priorities,
        stages, queues and names repeat down a page."""
        key = (cell.plain, str(cell.style), tuple(cell.spans), width, base)
        drawn = self._cells_drawn.get(key)
        if drawn is None:
            shown = cell.copy()
            shown.truncate(width, overflow="ellipsis", pad=True)
            console = self.app.console
            # Text.render leaves the text's own style out when it has no spans.
            own = Style.null() if shown.spans else console.get_style(shown.style)
            drawn = list(Segment.apply_style(shown.render(console), base + own))
            if len(self._cells_drawn) >= DRAWN_CELLS_KEPT:
                self._cells_drawn.clear()
            self._cells_drawn[key] = drawn
        return drawn

    # -- cursor ----------------------------------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        for row in (old, new):
            self.refresh_line(row + 1)
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        visible = max(self.size.height - 1, 1)
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    def action_move(self, step: int) -> None:
        if self.keys:
            self.cursor_row = max(0, min(self.cursor_row + step, len(self.keys) - 1))

    def action_move_page(self, step: int) -> None:
        self.action_move(step * max(self.size.height - 2, 1))

    def action_move_to(self, row: int) -> None:
        if self.keys:
            self.cursor_row = row % len(self.keys)

    def action_select(self) -> None:
        if self.keys:
            self.post_message(self.Selected(self.keys[self.cursor_row]))

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_offset.y) + event.y - 1
        if 0 <= row < len(self.keys) and event.y > 0:
            if row == self.cursor_row:
                self.action_select()
            self.cursor_row = row


def _floor(column: Column) -> int:
    """The narrowest a column gets: its minimum, or its header if that is wider."""
    return max(column.min_width, cell_len(column.label))


class StatusLine(Widget):
    """One line of plain text above the table. Changing it repaints this line only, where
    `Static.update` would lay out the whole screen again."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
    }
    """
    text: reactive[str] = reactive("", layout=False)

    def render(self) -> Text:
        return plain(self.text)
