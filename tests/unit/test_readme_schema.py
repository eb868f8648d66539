"""The README says which event fields are required, as `cxdesk schema` does."""

from __future__ import annotations

import re
from pathlib import Path

from cxdesk.workflow.intake.events import FeedbackEventIn

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_names_the_fields_the_schema_requires() -> None:
    text = README.read_text(encoding="utf-8")
    paragraph = text[text.index("The event schema (`cxdesk schema`") :].split("\n\n")[0]
    clause = re.search(r"requires (.*?):", paragraph, re.S)
    assert clause is not None, "the README says which fields are required"
    named = set(re.findall(r"`(\w+)`", clause.group(1)))
    schema = FeedbackEventIn.model_json_schema()
    customer = schema["$defs"]["CustomerIn"]["required"]
    assert named == set(schema["required"]) | set(customer)
    assert not re.search(r"\(required[,)]", paragraph)  # said once, in one place
