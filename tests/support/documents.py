"""Reading documents back as a reader would: a PDF's text through poppler's pdftotext."""

from __future__ import annotations

import shutil
import subprocess


def pdf_text(data: bytes) -> str | None:
    """The PDF's text through pdftotext, or None where poppler is not installed."""
    if shutil.which("pdftotext") is None:
        return None
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return done.stdout.decode("utf-8")
