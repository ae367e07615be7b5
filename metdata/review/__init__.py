"""`metdata review`: the manual checks of query links and distractors as a local web page.

`app` serves the page and its JSON API on loopback; `store` keeps the decisions (append-only, fsync'ed)
and exposes `accepted_links(root)` and `rejected_distractors(root)` for the split builder.
"""
