"""The job queue: the one door into the engine for the HTTP API and the watch folders, with its engine
thread, the job records (SQLite), the result cache and what is kept of each upload for later checks."""
