"""A small modal form: labelled fields, validated before it returns its values."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.fuzzy import FuzzySearch
from textual.screen import ModalScreen
from textual.style import Style
from textual.widgets import Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from cxdesk.i18n import N_, Translator
from cxdesk.output import sanitize
from cxdesk.screens.localized_bindings import localize_bindings

MATCHED = Style(reverse=True)  # the letters of a choice the typed text matched


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | multiline | select | pick (type to narrow a list)
    required: bool = True
    choices: list[tuple[str, str]] = field(default_factory=list)  # (shown, value)
    value: str = ""
    hints: dict[str, str] = field(default_factory=dict)  # value: a note shown beside, not searched
    either: str = ""  # a required field may be left empty when this other field is given
    placeholder: str = ""  # a picker's, in English (translated where shown); default: agents'


class Picker(Vertical):
    """Type to narrow the choices (fuzzy: `wf` finds "Wang Fang (wang.fang)"), up and down to
    move; the highlighted choice is the value. Keyboard only: the list never takes the focus."""

    DEFAULT_CSS = """
    Picker { height: auto; }
    Picker OptionList { height: auto; max-height: 8; }
    """
    BINDINGS = [
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("pagedown", "move(5)", "Page down", show=False),
        Binding("pageup", "move(-5)", "Page up", show=False),
    ]

    def __init__(self, spec: Field, t: Translator, *, id: str) -> None:
        super().__init__(id=id)
        self.spec = spec
        self.t = t
        self._search = FuzzySearch()

    def compose(self) -> ComposeResult:
        placeholder = self.spec.placeholder or N_("type a name or login to narrow the list")
        yield Input(placeholder=self.t(placeholder))
        options = OptionList()
        options.can_focus = False
        yield options

    def on_mount(self) -> None:
        self._show("")

    @property
    def value(self) -> str:
        options = self.query_one(OptionList)
        if options.highlighted is None or options.option_count == 0:
            return ""
        return options.get_option_at_index(options.highlighted).id or ""

    def focus(self, scroll_visible: bool = True) -> Picker:
        self.query_one(Input).focus(scroll_visible)
        return self

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._show(event.value)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = min(max(current + step, 0), options.option_count - 1)

    def _show(self, query: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        query = query.strip()
        found: list[tuple[float, Option]] = []
        for order, (choice, value) in enumerate(self.spec.choices):
            shown = sanitize(choice)
            label = Content(shown)  # untrusted text: plain Content, never parsed as markup
            score: float
            if not query:
                score = -order
            else:
                score, offsets = self._search.match(query, shown)
                if score <= 0:
                    continue
                for offset in offsets:  # the typed letters, marked where they matched
                    if not shown[offset].isspace():
                        label = label.stylize(MATCHED, offset, offset + 1)
            hint = self.spec.hints.get(value)
            if hint:
                label = Content.assemble(label, ("  " + sanitize(hint), "dim"))
            found.append((score, Option(label, id=value)))
        found.sort(key=lambda pair: -pair[0])
        options.add_options([option for _score, option in found])
        if found:
            options.highlighted = 0
        else:
            options.add_option(Option(Content(self.t("no match")), disabled=True))


class FormScreen(ModalScreen[dict[str, str] | None]):
    """Returns the field values on ctrl+s, None on escape; required fields are checked."""

    CSS_PATH = "forms.tcss"
    BINDINGS = [
        Binding("ctrl+s", "submit", "Save", id="form.submit"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, title: str, fields: list[Field], t: Translator | None = None) -> None:
        super().__init__()
        self.form_title = title
        self.fields = fields
        self.t = t or Translator()
        localize_bindings(self, self.t)

    def compose(self) -> ComposeResult:
        t = self.t
        with Vertical(id="form") as form:
            form.border_title = self.form_title
            form.border_subtitle = t("ctrl+s save · esc cancel")
            for spec in self.fields:
                label = t(spec.label)
                yield Label(Text(label if spec.required else t("{label} (optional)", label=label)))
                # A stored value offered for editing is shown, and saved, with its control
                # characters as inert escapes (ordinary text is unchanged).
                if spec.kind == "multiline":
                    value = sanitize(spec.value, multiline=True)
                    yield TextArea(value, id=f"field-{spec.name}", soft_wrap=True)
                elif spec.kind == "select":
                    yield Select(
                        [(Text(sanitize(shown)), value) for shown, value in spec.choices],
                        id=f"field-{spec.name}",
                        prompt=t("Select"),
                        allow_blank=True,  # required or not, nothing is chosen for the agent
                    )
                elif spec.kind == "pick":
                    yield Picker(spec, t, id=f"field-{spec.name}")
                else:
                    yield Input(sanitize(spec.value, multiline=True), id=f"field-{spec.name}")
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

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a picker takes the highlighted choice and saves, as ctrl+s does."""
        if isinstance(event.input.parent, Picker):
            event.stop()
            self.action_submit()

    def action_submit(self) -> None:
        values = self.values()
        missing = [
            self.t(s.label)
            for s in self.fields
            if s.required and not values[s.name] and not (s.either and values[s.either])
        ]
        if missing:
            self.query_one("#form-error", Static).update(
                Text(self.t("required: {fields}", fields=", ".join(missing)), style="bold red")
            )
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
