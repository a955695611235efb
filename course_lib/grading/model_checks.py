"""What the grader checks in a saved Keras model; the same checks serve the visible tests.

    from course_lib.grading import model_checks
    model_checks.parameter_count(model)        # every weight, BatchNormalization's statistics included
    model_checks.residual_connections(model)   # the Add layers whose shortcut skips a convolution
    model_checks.evaluate_file(data, images)   # in the evaluation sandbox: load, check, predict

`evaluate_file` is the only code that ever opens a submitted model file. It runs in a fresh
sandboxed worker that runs no student code and never sees labels: it checks that the archive
names built-in Keras classes only, loads it with ``safe_mode=True``, and returns plain data
(the parameter count from the weights' shapes, the residual connections, the outputs on the
hidden images). The grading process computes the accuracy and the budgets from that data.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

MODEL_FILE_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")
MAX_UNPACKED_BYTES = 256 * 2**20

# Modules of the classes a model file may name (the "module" entries of its config.json).
BUILTIN_MODULES = frozenset({
    "keras", "keras.layers", "keras.initializers", "keras.regularizers", "keras.constraints",
    "keras.activations", "keras.optimizers", "keras.optimizers.schedules", "keras.losses", "keras.metrics",
    "keras.src.models.functional", "keras.src.models.sequential", "keras.src.models.model",
})
# Built-in classes that run code of the file's choosing when loaded.
REFUSED_CLASSES = frozenset({"Lambda", "TFSMLayer", "__lambda__", "function"})


class ModelFileError(ValueError):
    """A model file the grader does not load, with the reason in words a student can act on."""


def prepare_images(images) -> np.ndarray:
    """Fashion-MNIST images as the models of A3 take them.

    Args:
        images: uint8 array of shape (N, 28, 28), grey levels 0..255.

    Returns:
        float32 array of shape (N, 28, 28, 1) with values in [0, 1].
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images should have shape (N, 28, 28), got {images.shape}")
    return (images.astype(np.float32) / 255.0)[..., None]


def _classes(node, found):
    if isinstance(node, dict):
        if "class_name" in node:
            found.append((node.get("module"), node.get("class_name"), node.get("registered_name")))
        for value in node.values():
            _classes(value, found)
    elif isinstance(node, list):
        for value in node:
            _classes(value, found)
    return found


def check_builtin_config(config: dict) -> None:
    """Raise ModelFileError unless every class `config` names is a built-in Keras class that runs no stored code."""
    for module, name, registered in _classes(config, []):
        if name in REFUSED_CLASSES or (isinstance(name, str) and name.startswith("__lambda")):
            raise ModelFileError(
                f"the model uses a {name} layer: the grader loads models with safe_mode=True, which refuses "
                "layers that carry Python code. Use built-in layers only (Conv2D, BatchNormalization, "
                "Activation, Add, ...)")
        if module is None and isinstance(name, str) and name.startswith("__") and name.endswith("__"):
            continue  # Keras' own markers: __keras_tensor__, __tuple__, __numpy__ ...
        if module not in BUILTIN_MODULES or registered not in (None, name):
            where = f"registered as {registered!r}" if registered not in (None, name) else f"module {module!r}"
            raise ModelFileError(
                f"the model uses the class {name!r} ({where}), which is not a built-in Keras class: the grader "
                "cannot load custom layers or classes. Build the model from keras.layers only")


def read_config(data: bytes) -> dict:
    """The config.json of a .keras archive, after checks of its members and sizes."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ModelFileError(f"the model file is not a .keras archive ({exc}); save it with model.save(...)") from None
    names = {i.filename for i in infos}
    if "config.json" not in names:
        raise ModelFileError("the model file has no config.json: it is not a Keras 3 .keras file; save it with "
                             "model.save('a3_model.keras')")
    if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise ModelFileError(f"the model file unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB")
    try:
        config = json.loads(archive.read("config.json"))
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(f"the model file's config.json cannot be read ({exc})") from None
    if not isinstance(config, dict):
        raise ModelFileError("the model file's config.json is not a Keras model config")
    return config


def load_model_file(path):
    """Load a .keras file after `check_builtin_config`, with safe_mode=True and without compiling."""
    with open(path, "rb") as f:
        check_builtin_config(read_config(f.read()))
    import keras  # after the checks: a refused file costs no TensorFlow start-up

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ModelFileError(f"Keras could not load the model file: {type(exc).__name__}: {str(exc)[:300]}") from None
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"the file holds a {type(model).__name__}, not a keras.Model")
    for layer in model._flatten_layers(include_self=False):
        module = type(layer).__module__
        if not (module.startswith("keras.src.layers.") or module.startswith("keras.src.models.")):
            raise ModelFileError(f"layer {layer.name!r} is a {type(layer).__name__} from {module}, "
                                 "not a built-in layer")
    return model


def parameter_count(model) -> int:
    """Every weight of `model` counted from its shape (trainable or not), as `model.count_params()` counts."""
    return int(sum(int(np.prod(tuple(w.shape), dtype=np.int64)) for w in model.weights))


def _is_conv(layer) -> bool:
    return type(layer).__module__.startswith("keras.src.layers.convolutional.")


def _convolutions(operation) -> int:
    import keras

    if isinstance(operation, keras.Model):
        return sum(_is_conv(layer) for layer in operation._flatten_layers(include_self=False))
    return int(_is_conv(operation))


def _ancestors(tensor, memo) -> frozenset:
    """The operations (by id) that `tensor` is computed from, its own included."""
    operation, node_index, _ = tensor._keras_history
    key = (id(operation), node_index)
    if key not in memo:
        memo[key] = frozenset()  # a cycle cannot happen in a functional graph; this guards the recursion anyway
        node = operation._inbound_nodes[node_index]
        found = {id(operation)}
        for parent in node.input_tensors:
            found |= _ancestors(parent, memo)
        memo[key] = frozenset(found)
    return memo[key]


def residual_connections(model) -> list[str]:
    """Names of the Add layers where one input passes through at least one convolution fewer than another.

    That is a shortcut: an identity (``Add()([x, f(x)])``) or a projection (a 1x1 convolution
    beside two 3x3 ones). Two parallel branches of equal depth are not. Only the model's own
    graph is searched at each level: a nested model counts as one layer holding its
    convolutions, and its own Add layers are searched in its graph.
    """
    import keras

    if not isinstance(model, keras.Model):
        return []
    if not hasattr(model, "operations"):  # a Sequential model: no branches, but maybe nested models
        return [name for layer in model.layers for name in residual_connections(layer)]
    operations = {id(op): op for op in model.operations}
    memo, found = {}, []
    for op in operations.values():
        if isinstance(op, keras.Model):
            found.extend(residual_connections(op))
        if type(op).__name__ != "Add" or not type(op).__module__.startswith("keras.src.layers.merging."):
            continue
        for node in op._inbound_nodes:
            inputs = [_ancestors(t, memo) for t in node.input_tensors]
            if _has_shortcut(inputs, operations):
                found.append(op.name)
                break
    return found


def _has_shortcut(inputs: list, operations: dict) -> bool:
    def convolutions(ids):
        return sum(_convolutions(operations[i]) for i in ids if i in operations)

    for i, a in enumerate(inputs):
        for b in inputs[i + 1:]:
            if convolutions(a - b) != convolutions(b - a):
                return True
    return False


def evaluate_file(data, images, batch_size: int = 250) -> dict:
    """Load a submitted model file and describe it: runs in the evaluation sandbox only.

    Args:
        data: uint8 array, the bytes of the .keras file.
        images: uint8 array (N, 28, 28), the hidden test images (their labels stay with the grader).

    Returns:
        dict with ``parameters`` (int), ``input_shape`` and ``output_shape`` (lists, -1 for the
        batch), ``residual`` (names of the Add layers with a shortcut), ``layers`` (class name ->
        count) and ``outputs`` (float32 array (N, classes)).
    """
    path = "model.keras"
    with open(path, "wb") as f:
        f.write(np.asarray(data, dtype=np.uint8).tobytes())
    model = load_model_file(path)

    def shape(s):
        return [-1 if d is None else int(d) for d in s]

    input_shape, output_shape = shape(model.input_shape), shape(model.output_shape)
    if input_shape != [-1, 28, 28, 1]:
        raise ModelFileError(f"the model takes inputs of shape {tuple(model.input_shape)}; it should take "
                             "(None, 28, 28, 1): keras.Input(shape=(28, 28, 1))")
    outputs = np.asarray(model.predict(prepare_images(images), batch_size=batch_size, verbose=0), dtype=np.float32)
    layers = {}
    for layer in model._flatten_layers(include_self=False):
        layers[type(layer).__name__] = layers.get(type(layer).__name__, 0) + 1
    return {"parameters": parameter_count(model), "input_shape": input_shape, "output_shape": output_shape,
            "residual": residual_connections(model), "layers": layers, "outputs": outputs}
