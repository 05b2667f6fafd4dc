#!/usr/bin/env bash
# The fast suite on fake clocks: no test may depend on the day it runs.
#
#     bash scripts/test_dates.sh                          # the dates below
#     bash scripts/test_dates.sh '2027-02-28 23:59:45'    # or these (UTC)
#
# Each run starts the test process's clock at a date and lets it tick (`pytest --fake-now`, with
# time-machine), so a run started just before midnight crosses it while tests run. Debian's
# libfaketime (0.9.10) cannot do this for Python 3.11: with the monotonic clock faked, timed lock
# waits in threads never return; without, time.sleep() fails with EINVAL. Live-server tests (e2e)
# and the soak (slow) are left out: their servers keep the real clock. Prints the failed tests per
# date and fails when any date has one.
set -uo pipefail
cd "$(dirname "$0")/.."

dates=("$@")
if [ ${#dates[@]} -eq 0 ]; then
    dates=(
        "2027-03-17 14:00:00"  # a Wednesday in mid-month: nothing special
        "2027-03-01 10:00:00"  # a Monday that is the 1st: day, week and month start together
        "2027-03-01 23:59:30"  # ... and its midnight, crossed during the run
        "2026-12-31 23:59:50"  # the last seconds of a month and of a year
    )
fi

failed=0
for date in "${dates[@]}"; do
    log=$(mktemp)
    echo "== $date"
    .venv/bin/python -m pytest -q -p no:cacheprovider -m "not e2e and not slow" --fake-now "$date" >"$log" 2>&1
    status=$?
    tail -n 1 "$log"
    if [ $status -ne 0 ]; then
        failed=$((failed + 1))
        grep -E '^(FAILED|ERROR) ' "$log" || tail -n 30 "$log"
    fi
    rm -f "$log"
done
[ $failed -eq 0 ] || { echo "test_dates: failures on $failed of ${#dates[@]} dates" >&2; exit 1; }
echo "test_dates: no test depends on the date (${#dates[@]} dates)"
