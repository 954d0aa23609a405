"""The case library's agreement with the engine, at the end of any run of its tests."""

from __future__ import annotations

import pytest

LIBRARY_TESTS = "tests/questionnaire/test_cases.py"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = any(
        report.nodeid.startswith(LIBRARY_TESTS)
        for reports in terminalreporter.stats.values()
        for report in reports
        if hasattr(report, "nodeid")
    )
    if not ran:
        return
    from questionnaire.cases import agreement, agreement_lines, get_library

    terminalreporter.section("case library: the engine against practice")
    for line in agreement_lines(agreement(get_library())):
        terminalreporter.write_line(line)
