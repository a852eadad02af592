"""Script task types (`scripts.Python`, `scripts.Shell`, `scripts.Commands`), registered on import.

The registry imports this family when a flow names a type that is not a core one.
"""

from stratoflow.tasks.scripts.tasks import Commands, Python, ScriptTask, Shell

__all__ = ["Commands", "Python", "ScriptTask", "Shell"]
