"""Gradients of any scalar function, on TensorFlow, JAX and PyTorch: `value_and_grad`.

Training losses go through `model.fit`; everything else that needs a gradient
(saliency maps, adversarial examples, DeepDream, style transfer, a hand-written GAN step)
calls this instead of `tf.GradientTape`, `jax.grad` or `torch.autograd`, so notebooks stay
backend-agnostic. This module is backend-specific, and says so here: it is the one place
that calls each framework's automatic differentiation.
"""

from __future__ import annotations

import keras
from keras import ops


def _value_and_grad_inputs(fn, x):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            value = fn(x)
        return value, tape.gradient(value, x)
    if backend == "jax":
        import jax

        return jax.value_and_grad(fn)(x)
    if backend == "torch":
        import torch

        x = x.detach().requires_grad_(True)
        value = fn(x)
        (grad,) = torch.autograd.grad(value, [x])
        return value.detach(), grad
    raise NotImplementedError(f"value_and_grad has no implementation for the {backend!r} backend")


def _value_and_grad_variables(fn, variables):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = fn()
        return value, tape.gradient(value, [v.value for v in variables])
    if backend == "jax":
        import jax

        def pure(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn()

        return jax.value_and_grad(pure)([v.value for v in variables])
    if backend == "torch":
        import torch

        value = fn()
        grads = torch.autograd.grad(value, [v.value for v in variables], allow_unused=True)
        return value.detach(), [torch.zeros_like(v.value) if g is None else g for v, g in zip(variables, grads)]
    raise NotImplementedError(f"value_and_grad has no implementation for the {backend!r} backend")


def _scalar(fn, what):
    """`fn` with its result checked to be a scalar (shapes are static, so this works under tracing)."""

    def wrapped(*args):
        value = fn(*args)
        shape = tuple(ops.shape(value))
        if shape not in ((), (1,)):
            raise ValueError(f"{what} must return a scalar to differentiate, got shape {shape}; "
                             f"reduce it first, e.g. with keras.ops.sum or keras.ops.mean")
        return ops.reshape(value, ())

    return wrapped


def value_and_grad(fn, x=None, *, variables=None):
    """The value of a scalar function and its gradient, on any Keras backend.

    Args:
        fn: with `x`: a function of one tensor returning a scalar, e.g.
            ``lambda img: ops.sum(model(img)[:, cls])``; with `variables`: a function of no
            arguments that reads the variables (a model's weights) and returns a scalar.
        x: the input to differentiate with respect to (array or tensor, float).
        variables: a list of `keras.Variable` (e.g. ``model.trainable_variables``).

    Returns:
        ``(value, grad)``: with `x`, `grad` is a tensor shaped like `x`; with `variables`,
        a list of tensors shaped like the variables.

    Example:
        >>> v, g = value_and_grad(lambda t: keras.ops.sum(t ** 2), keras.ops.ones((3,)))
        >>> keras.ops.convert_to_numpy(g).tolist()
        [2.0, 2.0, 2.0]
    """
    if (x is None) == (variables is None):
        raise ValueError("give exactly one of x (differentiate with respect to an input) "
                         "or variables=[...] (with respect to weights)")
    if x is not None:
        x = ops.convert_to_tensor(x)
        dtype = keras.backend.standardize_dtype(x.dtype)
        if not dtype.startswith(("float", "bfloat")):
            raise ValueError(f"x must be a floating-point tensor to differentiate, got dtype {dtype}; "
                             f"convert it, e.g. x.astype('float32')")
        return _value_and_grad_inputs(_scalar(fn, "fn(x)"), x)
    variables = list(variables)
    if not variables or not all(isinstance(v, keras.Variable) for v in variables):
        raise ValueError("variables must be a non-empty list of keras.Variable, e.g. model.trainable_variables")
    value, grads = _value_and_grad_variables(_scalar(fn, "fn()"), variables)
    return value, list(grads)



def compiled_value_and_grad(fn):
    """``value_and_grad`` of ``fn(x, *args)`` with respect to `x`, as a function ``step(x, *args)``
    compiled where the backend can: a ``tf.function`` on TensorFlow, ``jax.jit`` on JAX, eager on PyTorch.

    For a function evaluated many times on inputs of one shape (optimising an image): the
    first call traces `fn` (seconds for a large network), later calls run the compiled graph.
    Pass whatever changes between calls (targets, loss weights) as tensors in `args`, so that
    it does not trigger a new trace. Weights that `fn` reads from a model are taken as they are
    when it is traced: use it for frozen networks, and `value_and_grad` with ``variables=``
    for weights that train.

    Returns: ``step(x, *args) -> (value, grad)``, `grad` shaped like `x`.

    Example:
        >>> step = compiled_value_and_grad(lambda t, c: keras.ops.sum((t - c) ** 2))
        >>> value, grad = step(keras.ops.ones((3,)), keras.ops.zeros((3,)))
    """

    def step(x, *args):
        return value_and_grad(lambda t: fn(t, *args), x)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(step, autograph=False)
    if backend == "jax":
        import jax

        return jax.jit(step)
    return step
