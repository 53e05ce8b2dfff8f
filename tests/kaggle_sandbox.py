"""A bundled kernel's bootstrap run as Kaggle would run it, offline: the kitlib wheel of ``kit kernel``'s bundle in
an input folder standing in for ``/kaggle/input``, no ``KIT_*``/``PYTHON*`` variables, the editable install of this
checkout hidden, so only the wheel can be imported."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_bootstrap(bundle: Path, bootstrap: str, script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``bootstrap`` (the bundle notebook's setup cell) then ``script`` in a child Python in ``tmp_path``; the
    bundle's wheel (``bundle/kitlib-dataset/*.whl``) is the only kitlib it sees."""
    (wheel,) = (bundle / "kitlib-dataset").glob("*.whl")
    inputs, temp = tmp_path / "input", tmp_path / "tmp"
    (inputs / "kitlib").mkdir(parents=True)
    temp.mkdir()
    (inputs / "kitlib" / wheel.name).write_bytes(wheel.read_bytes())
    code = bootstrap.replace('"/kaggle/input"', repr(str(inputs))) + "\n" + script
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "PYTHON"))}
    env.update(KAGGLE_KERNEL_RUN_TYPE="Batch", TMPDIR=str(temp))
    return subprocess.run([sys.executable, "-c", "import sys\nsys.meta_path[:] = [f for f in sys.meta_path if "
                           "'editable' not in type(f).__module__.lower()]\n" + code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
