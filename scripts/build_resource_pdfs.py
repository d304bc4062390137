"""Build each course's printable resources: courses/*/resources/src/NAME.md -> resources/NAME.pdf.

Run by hand (`make resources`) after editing a resource's Markdown source; the PDFs are
committed, since course folders are content that the application only reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

from markdown_it import MarkdownIt
from weasyprint import CSS, HTML

ROOT = Path(__file__).resolve().parent.parent
STYLE = CSS(
    string="""
@page { size: letter; margin: 0.7in 0.75in 0.8in;
  @bottom-left { content: "SOP Learning Academy · printable resource"; font-size: 8pt; color: #555; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt; color: #555; } }
body { font-family: "DejaVu Sans", "Noto Sans", sans-serif; font-size: 10pt; line-height: 1.4; color: #1b1b1b; }
h1 { font-size: 18pt; color: #0b4778; border-bottom: 3px solid #0b4778; padding-bottom: 4pt; margin: 0 0 8pt; }
h2 { font-size: 13pt; color: #0b4778; margin: 14pt 0 4pt; }
h3 { font-size: 11pt; margin: 10pt 0 3pt; }
p, li { margin: 3pt 0; }
table { width: 100%; border-collapse: collapse; margin: 6pt 0 10pt; page-break-inside: auto; }
th, td { border: 1px solid #777; padding: 4pt 5pt; vertical-align: top; text-align: left; }
th { background: #e7eef5; }
tr { page-break-inside: avoid; }
td:empty { height: 26pt; }
blockquote { border-left: 3px solid #0b4778; margin: 6pt 0; padding: 2pt 8pt; background: #f3f5f7; }
code { font-family: "DejaVu Sans Mono", monospace; }
"""
)
MARKDOWN = MarkdownIt("commonmark").enable("table")


def build(source: Path) -> Path:
    target = source.parent.parent / f"{source.stem}.pdf"
    body = MARKDOWN.render(source.read_text(encoding="utf-8"))
    title = source.stem.replace("-", " ").title()
    html = f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"
    HTML(string=html, base_url=str(source.parent)).write_pdf(target, stylesheets=[STYLE])
    return target


def main(paths: list[str]) -> None:
    sources = [Path(p).resolve() for p in paths] or sorted(
        ROOT.glob("courses/*/resources/src/*.md")
    )
    for source in sources:
        target = build(source)
        shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
        print(f"{shown}  ({target.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main(sys.argv[1:])
