"""A small modal form: labelled fields, validated before it returns its values."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static, TextArea


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | multiline | select
    required: bool = True
    choices: list[tuple[str, str]] = field(default_factory=list)  # (shown, value) for select
    value: str = ""


class FormScreen(ModalScreen[dict[str, str] | None]):
    """Returns the field values on ctrl+s, None on escape; required fields are checked."""

    CSS_PATH = "forms.tcss"
    BINDINGS = [
        Binding("ctrl+s", "submit", "Save", id="form.submit"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, title: str, fields: list[Field]) -> None:
        super().__init__()
        self.form_title = title
        self.fields = fields

    def compose(self) -> ComposeResult:
        with Vertical(id="form") as form:
            form.border_title = self.form_title
            form.border_subtitle = "ctrl+s save · esc cancel"
            for spec in self.fields:
                yield Label(Text(spec.label + ("" if spec.required else " (optional)")))
                if spec.kind == "multiline":
                    yield TextArea(spec.value, id=f"field-{spec.name}", soft_wrap=True)
                elif spec.kind == "select":
                    yield Select(
                        [(Text(shown), value) for shown, value in spec.choices],
                        id=f"field-{spec.name}",
                        allow_blank=not spec.required,
                    )
                else:
                    yield Input(spec.value, id=f"field-{spec.name}")
            yield Static(id="form-error")

    def on_mount(self) -> None:
        self.query_one(f"#field-{self.fields[0].name}").focus()

    def values(self) -> dict[str, str]:
        out = {}
        for spec in self.fields:
            widget = self.query_one(f"#field-{spec.name}")
            if isinstance(widget, TextArea):
                value = widget.text
            elif isinstance(widget, Select):
                value = "" if widget.value is Select.NULL else str(widget.value)
            else:
                value = widget.value  # type: ignore[attr-defined]
            out[spec.name] = value.strip()
        return out

    def action_submit(self) -> None:
        values = self.values()
        missing = [s.label for s in self.fields if s.required and not values[s.name]]
        if missing:
            self.query_one("#form-error", Static).update(
                Text(f"required: {', '.join(missing)}", style="bold red")
            )
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
