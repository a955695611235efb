"""The course as a static book: `python -m book.build` (what `make site` runs)."""
