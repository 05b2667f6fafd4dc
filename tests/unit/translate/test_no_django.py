"""The translation package is framework-free: importing it pulls in no Django and no httpx."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import api.translate

FORBIDDEN = ("django", "httpx", "orjson", "rest_framework")
PROBE = """
import importlib, pkgutil, sys
import api.translate as package
for module in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"api.translate.{module.name}")
print(",".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_every_translate_module_imports_without_django_or_httpx() -> None:
    modules = [m.name for m in pkgutil.iter_modules(api.translate.__path__)]
    assert "request" in modules and "validate" in modules
    root = Path(api.translate.__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(result.stdout.strip().split(","))
    assert loaded.isdisjoint(FORBIDDEN), loaded & set(FORBIDDEN)
