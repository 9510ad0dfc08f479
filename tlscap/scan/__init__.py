"""`tlscap scan`: find every capture under some folders, analyze them in parallel, report them as one.

`discovery` finds the captures (by content), `runner` analyzes them in local worker processes or on a
Dask cluster and streams the results back, `progress` shows how far it got, `cli_scan` ties them to the
command line.
"""
