"""Multiply-accumulates of composite layers, for `course_lib.models.summary_table`."""

from __future__ import annotations


class CountsMACs:
    """Mixin for a layer built from sublayers: `record(sublayer, input_shape)` during `build`,
    and `macs()` sums the multiply-accumulates of the recorded sublayers for one example."""

    def record(self, sublayer, input_shape) -> None:
        log = self.__dict__.get("_mac_log")
        if log is None:
            log = []
            object.__setattr__(self, "_mac_log", log)   # plain list: not tracked by Keras
        log.append((sublayer, tuple(input_shape)))

    def macs(self) -> int:
        from course_lib.models.summary import layer_macs

        return sum(layer_macs(layer, shape, tuple(layer.compute_output_shape(shape)))
                   for layer, shape in self.__dict__.get("_mac_log", []))
