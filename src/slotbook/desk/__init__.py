"""The front desk's day: one outlet's staff, sessions and rosters for one local day.

Read in a fixed handful of queries and judged by ``scheduling.rules``, so the desk page
shows capacity, "almost full" and the actions a status allows exactly as booking
decides them, without a copy of those rules in the browser.
"""
