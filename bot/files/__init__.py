"""Files dropped into a thread: the type gate they pass before any byte leaves Slack, and their way in.

The gate is pure (no network): ``types`` holds the accepted types (exactly the Code Interpreter
table), ``names`` makes names and sizes safe to show, ``declared`` compares what Slack reports
with the extension, ``sniff``, ``archives`` and ``text`` look at the bytes, and ``gate`` runs
the checks and words each refusal.
"""
