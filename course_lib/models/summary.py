"""`summary_table(model)`: output shape, parameters and multiply-accumulates of every layer."""

from __future__ import annotations

import dataclasses

from course_lib.layers import costs


@dataclasses.dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple
    params: int
    macs: int


def summary_table(model) -> list[LayerRow]:
    """One row per top-level layer: name, type, output shape (without batch), parameters, MACs.

    MACs come from `course_lib.layers.costs.macs`: Keras' convolutions (any kind) and dense
    layers by formula, the course's own layers by their ``macs()`` method (LeNet's C3, and the
    residual, Inception, dense and SE blocks over their sublayers); other nested models count
    as one row with their parameters and no MACs.
    """
    rows = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        node_in = layer.input
        in_shape = tuple(node_in.shape) if not isinstance(node_in, (list, tuple)) else tuple(node_in[0].shape)
        out_shape = tuple(layer.output.shape) if not isinstance(layer.output, (list, tuple)) else tuple(layer.output[0].shape)
        macs = costs.macs(layer, in_shape, out_shape)
        rows.append(LayerRow(layer.name, type(layer).__name__, out_shape[1:], layer.count_params(), macs))
    return rows


def format_table(rows: list[LayerRow]) -> str:
    """The rows as aligned text, with totals."""
    name_w = max([len(r.name) for r in rows] + [5]) + 2
    kind_w = max([len(r.kind) for r in rows] + [4]) + 2
    shape_w = max([len(str(r.output_shape)) for r in rows] + [12]) + 2
    lines = [f"{'layer':<{name_w}}{'type':<{kind_w}}{'output shape':<{shape_w}}{'params':>12}{'MACs':>16}"]
    for r in rows:
        lines.append(f"{r.name:<{name_w}}{r.kind:<{kind_w}}{str(r.output_shape):<{shape_w}}{r.params:>12,}{r.macs:>16,}")
    lines.append(f"{'total':<{name_w + kind_w + shape_w}}{sum(r.params for r in rows):>12,}{sum(r.macs for r in rows):>16,}")
    return "\n".join(lines)
