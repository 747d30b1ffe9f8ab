"""Print ``name==lower`` for every core dependency of pyproject.toml: the lowest versions the
project declares, which .ci/run installs on the lowest supported Python."""

import re
import sys
from pathlib import Path

import tomllib

project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
pins = []
for requirement in project["dependencies"]:
    found = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*.*?>=\s*([0-9][^,;\s]*)", requirement)
    if not found:
        sys.exit(f"core dependency {requirement!r} has no lower bound (>=): declare one")
    pins.append(f"{found.group(1)}=={found.group(3)}")
python = re.match(r"^>=\s*([0-9.]+)$", project["requires-python"])
if not python:
    sys.exit(f"requires-python {project['requires-python']!r} is not of the form '>=X.Y'")
print(python.group(1), *pins)
