"""The web console: a JSON API (OpenAPI-described) and pages over a platform's history and actions.

`create_app(backend, authorize=...)` (in `stratoflow.console.app`) builds the ASGI app; the backend is
a `ConsoleBackend` (`stratoflow.console.backend`): `LocalConsoleBackend` here, a cloud one in the
cloud package. Importing this package imports no web framework: `strato run` never pays for it.
"""
