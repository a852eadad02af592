"""Script task types (`scripts.Python`, `scripts.Shell`, `scripts.Commands`), registered when
`stratoflow.tasks.scripts.tasks` is imported (the registry does, when a flow names one).

The package itself imports nothing: the script sandbox (`sandbox`) runs a command without the flow
model or the task types, and loads only what it uses.
"""
