"""Sphinx configuration of the course book; `python -m book.build` (or `make site`) stages
this folder with the notebooks and runs Sphinx on it. Nothing is executed: the pages show
the outputs committed in the notebooks."""

import os
import sys

sys.path.insert(0, os.path.abspath("_ext"))

project = "Keras vision course"
author = "the course's authors"
copyright = "the course's authors, MIT licence"

extensions = [
    "myst_nb",                 # notebooks and Markdown pages
    "sphinx.ext.autodoc",      # the library reference, from course_lib's docstrings
    "sphinx.ext.napoleon",     # Google-style Args:/Returns: sections
    "sphinx.ext.mathjax",
    "course_book",             # the banner with the setup line, download and JupyterLab links
]

# Notebooks: read as committed, never run.
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

# MathJax 3, copied into _static/mathjax by the builder: no CDN.
mathjax_path = "mathjax/tex-mml-chtml.js"

# The reference: `course_lib` is importable (PYTHONPATH=repo root); Keras loads on first use.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
default_role = "py:obj"

html_theme = "sphinx_book_theme"
html_title = "Keras vision course"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_context = {"default_mode": "light"}   # with no mode stored, the theme starts light (and logs no error)
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "use_download_button": False,     # the banner's own links serve the committed notebook
    "use_fullscreen_button": True,
    "use_repository_button": False,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "navigation_with_keys": True,
    "launch_buttons": {},
    "search_bar_text": "Search the course…",
    "navbar_persistent": [],          # one search field, in the sidebar
}
course_lab_url = os.environ.get("COURSE_LAB_URL", "http://localhost:8888/lab/tree/")
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_ext"]
