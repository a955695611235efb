"""Sphinx extension for the course book: on every notebook page, a banner with the setup
cell's profile line and links to download the notebook or open it in JupyterLab.

`book/build.py` writes ``_course_book.json`` beside conf.py: for each notebook page its
file name, the setup line of its committed outputs and its path in the repository. The
committed notebook itself is copied, byte for byte, to ``_notebooks/<page>.ipynb``.
"""

from __future__ import annotations

import html
import json
import pathlib
import re

from sphinx.application import Sphinx


def _pages(app: Sphinx) -> dict:
    if not hasattr(app, "_course_book_pages"):
        path = pathlib.Path(app.confdir) / "_course_book.json"
        app._course_book_pages = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return app._course_book_pages


def _lab_url(app: Sphinx, repo_path: str) -> str:
    return app.config.course_lab_url.rstrip("/") + "/" + repo_path


def banner(app: Sphinx, pagename: str, context: dict) -> str:
    """The HTML put above a notebook page's content."""
    page = _pages(app)[pagename]
    download = context["pathto"](f"_notebooks/{pagename}.ipynb", 1)
    lab = _lab_url(app, page["repo_path"])
    line = page["setup_line"]
    if line:
        shown = (f"<span class='course-banner-label'>Outputs from</span> "
                 f"<code class='course-setup-line'>{html.escape(line)}</code>")
    else:
        shown = ("<span class='course-banner-label'>Student version:</span> "
                 "no outputs; download it, fill in the code and run the tests.")
    return (f"<div class='course-banner'><div>{shown}</div><div class='course-banner-links'>"
            f"<a class='course-download' href='{html.escape(download)}' download='{html.escape(page['file'])}'>"
            f"<i class='fa-solid fa-download'></i> Download {html.escape(page['file'])}</a> "
            f"<a class='course-open-lab' href='{html.escape(lab)}' "
            f"title='Opens in the JupyterLab of `make lab` (running on this machine)'>"
            f"<i class='fa-solid fa-rocket'></i> Open in JupyterLab</a></div></div>\n")


def add_banner(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if pagename not in _pages(app) or "body" not in context:
        return
    context["body"] = banner(app, pagename, context) + context["body"]
    page = _pages(app)[pagename]
    if isinstance(context.get("header_buttons"), list):
        context["header_buttons"].insert(0, {
            "type": "group", "tooltip": "This notebook", "icon": "fas fa-download", "label": "notebook-buttons",
            "buttons": [
                {"type": "link", "url": context["pathto"](f"_notebooks/{pagename}.ipynb", 1),
                 "text": ".ipynb", "tooltip": "Download the notebook", "icon": "fas fa-code",
                 "label": "download-notebook-button"},
                {"type": "link", "url": _lab_url(app, page["repo_path"]), "text": "JupyterLab",
                 "tooltip": "Open in the JupyterLab of `make lab`", "icon": "fas fa-rocket",
                 "label": "open-lab-button"},
            ]})


_PIPES = re.compile(r"(?<!\\)\|")


def tidy_docstring(app, what, name, obj, options, lines: list[str]) -> None:
    """Read course_lib's plain-text docstrings as they are meant.

    An indented block after a blank line (a usage example, a snippet) becomes a literal
    block, and ``|x|`` means an absolute value, not a reStructuredText substitution.
    """
    out, last_text = [], ""
    for i, line in enumerate(lines):
        starts_block = (line.startswith(" ") and line.strip() and i > 0 and not lines[i - 1].strip()
                        and last_text and not last_text.startswith((" ", "..", ":"))
                        and not last_text.rstrip().endswith("::"))
        if starts_block:
            out[-1:] = ["", "::", ""]
        if not (line.lstrip().startswith(("|", "+")) and line.rstrip().endswith(("|", "+"))):
            line = _PIPES.sub(r"\\|", line)
        if line.strip():
            last_text = line
        out.append(line)
    lines[:] = out


def setup(app: Sphinx) -> dict:
    app.connect("autodoc-process-docstring", tidy_docstring, priority=600)
    app.add_config_value("course_lab_url", "http://localhost:8888/lab/tree/", "html")
    app.add_css_file("course.css")
    app.connect("html-page-context", add_banner, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
