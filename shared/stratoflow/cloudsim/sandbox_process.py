"""`python -m stratoflow.cloudsim.sandbox_process`: one sandbox invocation, the job on stdin, the reply on
stdout (what `functions/script_sandbox` does in Lambda; see `cloudsim.sandboxes`)."""

from __future__ import annotations

import json
import sys

from stratoflow.tasks.scripts.sandbox import handle

if __name__ == "__main__":
    sys.stdout.write(json.dumps(handle(json.load(sys.stdin))))
