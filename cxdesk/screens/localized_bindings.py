"""Key bindings described in the desk's language.

A class's BINDINGS are English and shared by every instance, and Textual has no public way to
describe one instance's keys otherwise: so this replaces the instance's private
`DOMNode._bindings`, the BindingsMap that `DOMNode.__init__` copies from the class's merged
BINDINGS and that `Screen.active_bindings` (hence the footer, the `?` overlay and the command
palette) reads. Each instance gets its own translated copy, so two apps in two languages never
share one. `tests/tui/test_textual_internals.py` pins that the attribute is there and that what it
holds is what the footer shows.
"""

from __future__ import annotations

import dataclasses

from textual.binding import BindingsMap
from textual.dom import DOMNode

from cxdesk.i18n import Translator


def localize_bindings(node: DOMNode, t: Translator) -> None:
    """Give `node`'s key bindings descriptions (and tooltips, and group names) in `t`'s
    language."""
    localized = BindingsMap()
    localized.key_to_bindings = {
        key: [
            dataclasses.replace(
                binding,
                description=t(binding.description),
                tooltip=t(binding.tooltip) if binding.tooltip else binding.tooltip,
                group=(
                    dataclasses.replace(binding.group, description=t(binding.group.description))
                    if binding.group
                    else None
                ),
            )
            for binding in bindings
        ]
        for key, bindings in node._bindings.key_to_bindings.items()
    }
    node._bindings = localized
