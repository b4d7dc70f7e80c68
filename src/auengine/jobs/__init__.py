"""Scoring jobs: the job table as a queue, worker processes, the scoring task (reuses scoring/)."""
