"""tshark's truth with out-of-order TCP reassembly switched on, made by the corpus's own tools/truth.py.

tshark 4.0 leaves `tcp.reassemble_out_of_order` off by default, so where segments arrive out of order
it misses or misplaces messages that tlscap reads. Running the corpus's generator with that one
preference on shows whether tshark then agrees with tlscap.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from corpus_facts import CORPUS


def ooo_truth(names: list[str], workdir: Path) -> dict[str, dict]:
    """Truth files (by truth name) regenerated for `names` with out-of-order reassembly on."""
    (workdir / "tools").mkdir(parents=True, exist_ok=True)
    shutil.copy(CORPUS / "tools" / "truth.py", workdir / "tools" / "truth.py")
    for entry in ("files", "PROVENANCE.tsv"):
        target = workdir / entry
        if not target.exists():
            target.symlink_to((CORPUS / entry).resolve())
    wrapper = workdir / "tshark-ooo"
    wrapper.write_text('#!/bin/sh\nexec tshark -o tcp.reassemble_out_of_order:TRUE "$@"\n')
    wrapper.chmod(0o755)
    substrings = [name.split("__", 1)[1].removesuffix(".json") for name in names]
    env = dict(os.environ, TSHARK=str(wrapper))
    subprocess.run([sys.executable, str(workdir / "tools" / "truth.py"), *substrings], env=env, check=True,
                   capture_output=True, timeout=600)
    return {name: json.loads((workdir / "truth" / name).read_text()) for name in names}
