"""The Cloud Functions' code, one import name everywhere: `functions/main.py` (the deployed
entry point, thin wrappers) imports `superparty_functions.<module>`, and so do the tests and
mypy, with `functions/` on the path (pyproject: pytest `pythonpath`, mypy `mypy_path`)."""
