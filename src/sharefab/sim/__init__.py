"""A discrete-event simulator of an industrial cluster over weeks: how much does sharing buy?

`run_simulation` plays the same random streams (arrivals, breakdowns, duration noise) under
each policy (`isolated`, `greedy`, `sharefab`) and `summarise` turns the runs into metrics with
95 % confidence intervals over seeds.
"""
