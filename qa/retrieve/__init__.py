"""Retrieval: a question and its embedding in, scored sentences and ranked passages out.

`names` and `focus` read the question (what it names, what it asks without its place names),
`evidence` scores every sentence (or, above `store.approximate_threshold`, the ANN's window of them)
against the question and its focus, `passages` ranks chunks by their best sentence and picks the
passages an answer may quote from.
"""
