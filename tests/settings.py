"""The settings the suite runs with: the project's own, read as for development.

advisor/settings.py gives production settings unless DJANGO_DEBUG=1. The
suite needs development's: its key, its ALLOWED_HOSTS (the live daphne
servers of the browser and multi-process tests answer on 127.0.0.1) and
cookies without the Secure flag (those servers speak plain HTTP). Setting
the variable here, in pytest's DJANGO_SETTINGS_MODULE (pyproject.toml), gives
them to every way of running pytest (`make test`, a bare `pytest`, an editor),
where a variable in the Makefile would reach `make test` only. pytest-django
still runs each test with DEBUG=False; tests of the production defaults
import the settings in a subprocess with an environment of their own.
"""

from __future__ import annotations

import os

# Set, not defaulted: a DJANGO_DEBUG=0 left in the shell would otherwise turn
# the suite's settings into production ones.
os.environ["DJANGO_DEBUG"] = "1"

from advisor.settings import *  # noqa: E402, F403

# Render workers start at the first render: a test that never downloads a
# PDF must not spawn them (the test of the early start connects it itself).
ADVISOR_REPORT_WORKERS_EARLY = False
# Only the tests of questionnaire/prerender.py render in the background.
ADVISOR_REPORT_PRERENDER = False
