"""A country's public holidays from the `holidays` package, loading that country alone.

`holidays.country_holidays("CN")` imports `holidays.countries`, whose `__init__` imports all
of the package's countries (some 250 modules) to reach one; every command and the desk that
reads a running SLA clock would pay for them. The country's own module is loaded here from
the package's registry instead; most need only the shared parts of `holidays` (calendars,
groups, the base classes). The few built on a neighbour (Guam on the United States) go
through the package as before.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from functools import cache
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from holidays import HolidayBase

# A module is registered before it runs (as an import registers it): a thread finding it
# there while another runs it would see no holidays class yet. One loads at a time.
_LOADING = threading.Lock()


@cache
def country_holidays(country: str) -> HolidayBase:
    """What `holidays.country_holidays(country)` gives (`country` one of the registry's
    codes or aliases, as the config checks), without importing the other countries."""
    from holidays.registry import COUNTRIES

    module = next(name for name, names in COUNTRIES.items() if country in names)
    try:
        with _LOADING:
            loaded = sys.modules.get(f"holidays.countries.{module}") or _load_alone(module)
    except ImportError:  # it imports a neighbour, and with it the package, which imports it
        import holidays

        return holidays.country_holidays(country)
    return cast("HolidayBase", getattr(loaded, country)())


def _load_alone(module: str) -> object:
    """`holidays.countries.<module>`, executed and registered as an import would, without
    running its package's `__init__` (found, not imported, by `find_spec`)."""
    package = importlib.util.find_spec("holidays.countries")
    assert package is not None and package.submodule_search_locations is not None
    name = f"holidays.countries.{module}"
    location = f"{package.submodule_search_locations[0]}/{module}.py"
    spec = importlib.util.spec_from_file_location(name, location)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    try:
        spec.loader.exec_module(loaded)
    except BaseException:
        del sys.modules[name]
        raise
    return loaded
