"""Rendering a certificate to PDF with WeasyPrint, in worker processes, fetching nothing.

Each worker process parses the stylesheet and builds its font configuration once, then
renders many certificates; the web server hands work to the pool so that the event loop
never waits on WeasyPrint.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import io
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from lms.settings import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates" / "certificates"
ASSETS = Path(__file__).parent / "assets"

# Certificates are kept for years and read with screen readers: PDF/A-3 at its accessible
# level ("a": tagged, with the structure tree, the language and the title from the HTML, and
# the QR code's text alternative), and declared PDF/UA-1 in the XMP metadata as well
# (WeasyPrint writes one variant; the PDF/UA identifier is the one thing the other adds).
ARCHIVAL: dict[str, Any] = {"pdf_variant": "pdf/a-3a", "xmp_metadata": ["lms-asset:pdfua.xmp"]}

# The documents rendered, each with its stylesheet: a CE transcript looks like a transcript.
KINDS = {"certificate": "certificate", "transcript": "transcript", "ce_transcript": "transcript"}

_state: dict[str, Any] = {}  # per worker process: template, stylesheet, font configuration
_pool: ProcessPoolExecutor | None = None


def packaged_only_fetcher() -> Any:
    """A WeasyPrint URL fetcher for data: URLs and the app's packaged assets, nothing else."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class PackagedOnly(URLFetcher):
        refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith("lms-asset:"):
                path = (ASSETS / url.removeprefix("lms-asset:")).resolve()
                if path.is_relative_to(ASSETS.resolve()) and path.is_file():
                    return URLFetcherResponse(url, body=path.read_bytes())
            self.refused.append(url)
            raise ValueError(f"certificates fetch nothing from outside the app: {url[:80]}")

    return PackagedOnly(allowed_protocols={"data", "lms-asset"}, allow_redirects=False)


def _setup() -> None:
    """Load WeasyPrint, the template and the stylesheet once in this process."""
    if _state:
        return
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    fonts = FontConfiguration()
    fetcher = packaged_only_fetcher()
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    sheets = {  # each stylesheet parsed once, whichever documents share it
        css: CSS(
            string=(TEMPLATES / f"{css}.css").read_text(), font_config=fonts, url_fetcher=fetcher
        )
        for css in set(KINDS.values())
    }
    _state.update(
        fonts=fonts,
        fetcher=fetcher,
        **{f"{kind}_template": env.get_template(f"{kind}.html") for kind in KINDS},
        **{f"{kind}_css": sheets[css] for kind, css in KINDS.items()},
    )


def qr_png_data_url(url: str) -> str:
    import segno

    buffer = io.BytesIO()
    # One pixel per module, scaled up sharply by CSS (image-rendering: pixelated); a fixed
    # mask skips segno's search for the best one, which took longer than the PDF layout.
    segno.make(url, error="m", mask=0).save(buffer, kind="png", scale=1, border=2)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def render(fields: dict[str, Any], kind: str = "certificate") -> bytes:
    """Render one certificate, or a transcript (in a worker process, or in-process for
    benchmarks)."""
    from weasyprint import HTML

    _setup()
    template = _state[f"{kind}_template"]
    html = template.render(**fields, qr=qr_png_data_url(fields["verify_url"]))
    document = HTML(string=html, url_fetcher=_state["fetcher"], base_url="lms-asset:")
    return document.write_pdf(
        stylesheets=[_state[f"{kind}_css"]],
        font_config=_state["fonts"],
        **ARCHIVAL,
    )


def _warm() -> None:
    _setup()
    render(SAMPLE)


SAMPLE: dict[str, Any] = {
    "certificate_title": "Certificate of Completion",
    "learner_name": "Sample Learner",
    "course_title": "Sample Course",
    "course_version": "1",
    "hours": 1.0,
    "completed_on": "January 1, 2026",
    "issued_on": "January 1, 2026",
    "expires_on": None,
    "issuer": "SOP Learning Academy",
    "signatory_name": None,
    "signatory_title": None,
    "serial": "SAMPLE",
    "verify_url": "https://example.org/verify/SAMPLE",
}


def pool(workers: int = 1) -> ProcessPoolExecutor:
    """The shared pool of warm rendering processes, made by the first call (its size then)."""
    global _pool
    if _pool is None:
        count = workers
        # Spawned, not forked: the server's threads make fork unsafe, and a forked child
        # could hold a copy of a lock that stops the server from shutting down.
        _pool = ProcessPoolExecutor(
            max_workers=max(1, count),
            initializer=_warm,
            mp_context=multiprocessing.get_context("spawn"),
        )
        atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
    return _pool


def shutdown_pool() -> None:
    """Stop the rendering processes; a server must do this before its worker can exit."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


async def render_async(fields: dict[str, Any], kind: str = "certificate") -> bytes:
    return await asyncio.get_running_loop().run_in_executor(pool(), render, fields, kind)
