"""Where solver work runs: in process, a process pool, or a Dask cluster."""
