"""Pipeline stages: pure functions of one unit of work that return rows, failures included."""
