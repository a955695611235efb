"""The one place that makes a new Axes when a helper is given none."""

import matplotlib.pyplot as plt


def axes_or_new(ax, figsize=(5, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax
