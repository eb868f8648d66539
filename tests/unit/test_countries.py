"""A country's holidays loaded alone are the `holidays` package's own, and leave its other
countries unimported."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import holidays
from holidays.registry import EntityLoader
from hypothesis import given, settings
from hypothesis import strategies as st

from cxdesk.workflow.clocks.countries import country_holidays

CODES = sorted(EntityLoader.get_country_codes())  # what the config accepts


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["CN", "UK", "AX", "GU", *CODES]), st.integers(2000, 2040))
def test_the_same_days_as_the_package(code: str, year: int) -> None:
    """Whether loaded alone or (for a country built on a neighbour) through the package."""
    ours, theirs = country_holidays(code), holidays.country_holidays(code)
    ours.get(date(year, 1, 1)), theirs.get(date(year, 1, 1))  # each fills in the year
    assert type(ours).__qualname__ == type(theirs).__qualname__
    assert _of_year(ours, year) == _of_year(theirs, year)
    day = date(year, 6, 1)
    assert ours.is_working_day(day) == theirs.is_working_day(day)


def _of_year(days: holidays.HolidayBase, year: int) -> dict[date, str]:
    return {day: name for day, name in days.items() if day.year == year}


def test_one_country_leaves_the_others_unimported() -> None:
    code = (
        "import sys\n"
        "from datetime import date\n"
        "from cxdesk.workflow.clocks.countries import country_holidays\n"
        "assert country_holidays('CN').get(date(2026, 10, 1)) == 'National Day'\n"
        "loaded = [m for m in sys.modules if m.startswith('holidays.countries')]\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['holidays.countries.china']"


def test_threads_asking_for_a_country_at_once_each_get_it_whole() -> None:
    """A server's threads may need a calendar's country at the same moment: none may find
    the country's module registered but not yet run (it has no holidays class yet). The
    module's loading is slowed here so that the threads overlap."""
    code = (
        "import importlib.util, threading, time\n"
        "from datetime import date\n"
        "from cxdesk.workflow.clocks.countries import country_holidays\n"
        "real = importlib.util.spec_from_file_location\n"
        "def slow(*args, **kwargs):\n"
        "    spec = real(*args, **kwargs)\n"
        "    run = spec.loader.exec_module\n"
        "    spec.loader.exec_module = lambda module: (time.sleep(0.3), run(module))\n"
        "    return spec\n"
        "importlib.util.spec_from_file_location = slow\n"
        "start, told = threading.Barrier(4), []\n"
        "def ask():\n"
        "    start.wait()\n"
        "    try:\n"
        "        told.append(country_holidays('CN').get(date(2026, 10, 1)))\n"
        "    except Exception as exc:\n"
        "        told.append(repr(exc))\n"
        "threads = [threading.Thread(target=ask) for _ in range(4)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print(told)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(["National Day"] * 4)
