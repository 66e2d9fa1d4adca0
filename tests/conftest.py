"""Suite-wide setup."""

import salt._logging.impl


def pytest_configure(config):
    # Importing Salt installs a temporary log handler that queues records until Salt configures
    # logging, then replays them at exit ("I/O operation on closed file"). Tests never configure
    # Salt's logging, so drop it and let pytest's own capture handle records.
    salt._logging.impl.shutdown_temp_handler()


BENCH_LINES = []


def pytest_terminal_summary(terminalreporter):
    # Benchmarks print their numbers here, after the test results, whether or not -s is given.
    if BENCH_LINES:
        terminalreporter.section("benchmarks")
        for line in BENCH_LINES:
            terminalreporter.write_line(line)


def bench(line):
    """Record one benchmark line (shown in the terminal summary)."""
    BENCH_LINES.append(line)
    print(line)
