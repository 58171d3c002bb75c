"""Weights of an LSTM converted between Keras and PyTorch, both ways.

The two frameworks compute the same LSTM and store it differently (Keras 3's
``keras.layers.LSTM`` against ``torch.nn.LSTM`` and ``lstmlib.nn.LSTM``, which share
torch's layout):

- input weights: Keras ``kernel: (I, 4H)``; torch ``weight_ih_l{k}: (4H, I)``;
- recurrent weights: Keras ``recurrent_kernel: (H, 4H)``; torch ``weight_hh_l{k}: (4H, H)``;
- biases: Keras one, ``bias: (4H,)``; torch two, ``bias_ih_l{k}`` and ``bias_hh_l{k}``;
- gate blocks: Keras ``i, f, c, o``; torch ``i, f, g, o``;
- several layers: Keras one layer object per layer; torch ``num_layers`` in one module;
- bidirectional: Keras ``Bidirectional(LSTM)``, whose copy for the backward direction is
  its ``backward_layer``; torch ``bidirectional=True`` and the ``..._reverse`` parameters.

Keras's ``c`` block is PyTorch's ``g`` (the candidate cell value), so the gate order is the
same and the weights only need transposing. The biases are the one real difference: both
of PyTorch's are added to the same pre-activation, so only their sum matters. Keras to
PyTorch puts Keras's bias in ``bias_ih`` and zeros in ``bias_hh`` (as Keras's own torch
backend does when it hands a layer to cuDNN); PyTorch to Keras adds the two. A round trip
PyTorch -> Keras -> PyTorch therefore changes the parameters but not the function.

Only what PyTorch's LSTM can compute converts: ``activation="tanh"``,
``recurrent_activation="sigmoid"`` (Keras's defaults), a ``Bidirectional`` wrapper with
``merge_mode="concat"``, no ``go_backwards`` on a plain layer, and biases on both sides or
on neither (``use_bias=False`` pairs with ``bias=False``); anything else raises
an error. What is not a weight is not converted: ``unit_forget_bias`` (it only
initialises the bias), dropout, masking, statefulness. ``proj_size`` is not supported.

``torch_to_keras_dense`` and ``keras_to_torch_linear`` do the same for the read-out
layer that usually follows (Keras ``Dense`` kernel ``(in, out)``, torch ``Linear`` weight
``(out, in)``).

The Keras side is used only through objects the caller passes; this module imports
``keras`` only when it is given a Keras layer, so it never chooses Keras's backend.
"""

from __future__ import annotations

import numpy as np
import torch

from lstmlib.nn.lstm import LSTM
from lstmlib.shapes import ShapeError, check_shape

# --- one layer and direction, as arrays ----------------------------------------


def _as_numpy(array):
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    value = getattr(array, "value", None)  # a Keras variable holds a backend tensor
    if isinstance(value, torch.Tensor):  # (np.asarray of the variable warns under NumPy 2)
        return value.detach().cpu().numpy()
    return np.asarray(array)


def keras_to_torch_weights(kernel, recurrent_kernel, bias=None):
    """One Keras LSTM's weights in PyTorch's layout.

    Args:
        kernel: (I, 4H); recurrent_kernel: (H, 4H); bias: (4H,) or None (``use_bias=False``).
            NumPy arrays, tensors or Keras variables.

    Returns:
        ``(weight_ih, weight_hh, bias_ih, bias_hh)`` as NumPy arrays: ``(4H, I)``,
        ``(4H, H)``, and two ``(4H,)`` (Keras's bias, then zeros), or None if no bias.
    """
    kernel, recurrent_kernel = _as_numpy(kernel), _as_numpy(recurrent_kernel)
    sizes = {}
    check_shape("recurrent_kernel", recurrent_kernel, ("H", None), sizes)
    sizes["4H"] = 4 * sizes["H"]
    check_shape("recurrent_kernel", recurrent_kernel, ("H", "4H"), sizes)
    check_shape("kernel", kernel, ("I", "4H"), sizes)
    if bias is None:
        return kernel.T.copy(), recurrent_kernel.T.copy(), None, None
    bias = _as_numpy(bias)
    check_shape("bias", bias, ("4H",), sizes)
    return kernel.T.copy(), recurrent_kernel.T.copy(), bias.copy(), np.zeros_like(bias)


def torch_to_keras_weights(weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One PyTorch LSTM direction's weights in Keras's layout.

    Args:
        weight_ih: (4H, I); weight_hh: (4H, H); bias_ih, bias_hh: (4H,) each, or both
            None (``bias=False``). NumPy arrays or tensors.

    Returns:
        ``(kernel, recurrent_kernel, bias)`` as NumPy arrays: ``(I, 4H)``, ``(H, 4H)``
        and ``bias_ih + bias_hh: (4H,)``, or None if there are no biases.
    """
    weight_ih, weight_hh = _as_numpy(weight_ih), _as_numpy(weight_hh)
    sizes = {}
    check_shape("weight_hh", weight_hh, (None, "H"), sizes)
    sizes["4H"] = 4 * sizes["H"]
    check_shape("weight_hh", weight_hh, ("4H", "H"), sizes)
    check_shape("weight_ih", weight_ih, ("4H", "I"), sizes)
    if (bias_ih is None) != (bias_hh is None):
        raise ValueError("give both biases (bias_ih, bias_hh) or neither")
    if bias_ih is None:
        return weight_ih.T.copy(), weight_hh.T.copy(), None
    bias_ih, bias_hh = _as_numpy(bias_ih), _as_numpy(bias_hh)
    check_shape("bias_ih", bias_ih, ("4H",), sizes)
    check_shape("bias_hh", bias_hh, ("4H",), sizes)
    return weight_ih.T.copy(), weight_hh.T.copy(), bias_ih + bias_hh


# --- whole layers ------------------------------------------------------------------


def _check_torch_lstm(lstm):
    if not isinstance(lstm, torch.nn.LSTM | LSTM):
        raise TypeError(f"expected a torch.nn.LSTM or lstmlib.nn.LSTM, got {type(lstm).__name__}")
    if getattr(lstm, "proj_size", 0):
        raise ValueError("LSTMs with proj_size > 0 have no Keras counterpart; not supported")


def _torch_parameters(lstm, layer, reverse):
    """``[weight_ih, weight_hh, bias_ih, bias_hh]`` of one layer and direction (biases
    None without ``bias``), in torch's naming (``weight_ih_l0_reverse``, ...)."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return [getattr(lstm, name + suffix, None) for name in names]


def _torch_layer_input(lstm, layer):
    directions = 2 if lstm.bidirectional else 1
    return lstm.input_size if layer == 0 else directions * lstm.hidden_size


def _directions(keras_layer, where):
    """The plain Keras LSTM layers in a Keras layer: ``[forward]`` for an ``LSTM``,
    ``[forward, backward]`` for a ``Bidirectional(LSTM)``; each checked to be one that
    ``torch.nn.LSTM`` can compute."""
    import keras  # the caller has imported it (and chosen its backend): this is free

    if isinstance(keras_layer, keras.layers.Bidirectional):
        if keras_layer.merge_mode != "concat":
            raise ValueError(
                f"{where}: Bidirectional(merge_mode={keras_layer.merge_mode!r}) has no "
                "PyTorch counterpart; torch concatenates the two directions "
                "(merge_mode='concat')"
            )
        parts = [keras_layer.forward_layer, keras_layer.backward_layer]
        expected_backwards = [False, True]
    else:
        parts, expected_backwards = [keras_layer], [False]
    for part, backwards in zip(parts, expected_backwards, strict=True):
        if not isinstance(part, keras.layers.LSTM):
            raise TypeError(
                f"{where}: expected a keras.layers.LSTM or a Bidirectional(LSTM), got "
                f"{type(part).__name__}"
            )
        if part.go_backwards != backwards:
            raise ValueError(
                f"{where}: an LSTM with go_backwards={part.go_backwards} outside a "
                "Bidirectional wrapper reads the sequence reversed, which torch.nn.LSTM "
                "does not; flip the input instead"
            )
        _check_activations(part, where, keras)
    return parts


def _check_activations(part, where, keras):
    """torch.nn.LSTM computes tanh and sigmoid. These are the functions Keras's own torch
    backend accepts (``cudnn_ok``) before it hands an LSTM to torch's fused kernel."""
    allowed = {
        "activation": (keras.activations.tanh, keras.ops.tanh, torch.tanh),
        "recurrent_activation": (keras.activations.sigmoid, keras.ops.sigmoid, torch.sigmoid),
    }
    for name, functions in allowed.items():
        function = getattr(part.cell, name)
        if function not in functions:
            label = getattr(function, "__name__", repr(function))
            wanted = "tanh" if name == "activation" else "sigmoid"
            raise ValueError(
                f"{where}: {name}={label!r}, but torch.nn.LSTM computes {name}={wanted!r} "
                "only; this layer cannot be converted"
            )


def _as_layer_list(keras_layers, lstm, layer):
    """The Keras layers and the torch layer index each one maps to."""
    single = not isinstance(keras_layers, list | tuple)
    keras_layers = [keras_layers] if single else list(keras_layers)
    if layer is not None:
        if not single:
            raise ValueError("layer= copies one Keras layer; pass one layer, not a list")
        if not 0 <= layer < lstm.num_layers:
            raise ValueError(f"layer={layer}, but the torch LSTM has {lstm.num_layers} layers")
        return [(layer, keras_layers[0])]
    if len(keras_layers) != lstm.num_layers:
        raise ValueError(
            f"the torch LSTM has num_layers={lstm.num_layers}, so it needs "
            f"{lstm.num_layers} Keras layer(s) (one per layer, in order), got "
            f"{len(keras_layers)}; or pass layer= to copy one layer"
        )
    return list(enumerate(keras_layers))


def _check_pairing(part, lstm, k, direction_count, where):
    """Units, bias and directions of one Keras part against torch layer ``k``."""
    if direction_count != (2 if lstm.bidirectional else 1):
        kind = "Bidirectional(LSTM)" if lstm.bidirectional else "LSTM (not Bidirectional)"
        raise ValueError(
            f"{where}: the torch LSTM has bidirectional={lstm.bidirectional}, so it needs "
            f"a Keras {kind}"
        )
    if part.units != lstm.hidden_size:
        raise ShapeError(
            f"{where}: units={part.units}, but the torch LSTM has hidden_size={lstm.hidden_size}"
        )
    if part.use_bias != bool(lstm.bias):
        raise ValueError(
            f"{where}: use_bias={part.use_bias} but the torch LSTM has bias={lstm.bias}; "
            "both must have biases or neither (use_bias=False pairs with bias=False)"
        )


def keras_to_torch_lstm(keras_layers, torch_lstm, layer=None):
    """Copy the weights of Keras LSTM layers into a PyTorch LSTM, in place.

    Args:
        keras_layers: a built ``keras.layers.LSTM`` or ``keras.layers.Bidirectional(LSTM)``,
            or a list of them, one per layer of ``torch_lstm``, bottom layer first.
        torch_lstm: a ``torch.nn.LSTM`` or ``lstmlib.nn.LSTM`` with the same sizes
            (``hidden_size = units``; ``bidirectional=True`` for ``Bidirectional`` layers).
        layer: if given, copy the single Keras layer into this layer of ``torch_lstm``.

    Returns:
        ``torch_lstm``, which then computes what the Keras layers compute.
    """
    _check_torch_lstm(torch_lstm)
    for k, keras_layer in _as_layer_list(keras_layers, torch_lstm, layer):
        where = f"Keras layer for torch layer {k}"
        parts = _directions(keras_layer, where)
        I = _torch_layer_input(torch_lstm, k)
        for reverse, part in enumerate(parts):
            _check_pairing(part, torch_lstm, k, len(parts), where)
            if not part.built:
                raise ValueError(
                    f"{where} is not built, so it has no weights yet: call it on an input "
                    "(or the model that holds it) first"
                )
            cell = part.cell
            bias = cell.bias if cell.use_bias else None
            kernel = _as_numpy(cell.kernel)
            check_shape(f"{where}: kernel", kernel, ("I", "4H"), {"I": I, "4H": 4 * part.units})
            arrays = keras_to_torch_weights(kernel, cell.recurrent_kernel, bias)
            targets = _torch_parameters(torch_lstm, k, bool(reverse))
            with torch.no_grad():
                for target, array in zip(targets, arrays, strict=True):
                    if target is not None:
                        target.copy_(torch.as_tensor(array))
    return torch_lstm


def torch_to_keras_lstm(torch_lstm, keras_layers, layer=None):
    """Copy the weights of a PyTorch LSTM into Keras LSTM layers, in place.

    Args:
        torch_lstm: a ``torch.nn.LSTM`` or ``lstmlib.nn.LSTM``.
        keras_layers: a ``keras.layers.LSTM`` or ``Bidirectional(LSTM)``, or a list of
            them, one per layer of ``torch_lstm`` (see ``keras_to_torch_lstm``). Layers
            not yet built are built here for the input size they will see.
        layer: if given, copy this layer of ``torch_lstm`` into the single Keras layer.

    Returns:
        ``keras_layers``, which then compute what ``torch_lstm`` computes.
    """
    _check_torch_lstm(torch_lstm)
    for k, keras_layer in _as_layer_list(keras_layers, torch_lstm, layer):
        where = f"Keras layer for torch layer {k}"
        parts = _directions(keras_layer, where)
        I = _torch_layer_input(torch_lstm, k)
        for part in parts:
            _check_pairing(part, torch_lstm, k, len(parts), where)
        if not keras_layer.built:
            keras_layer.build((None, None, I))
        for reverse, part in enumerate(parts):
            cell = part.cell
            check_shape(f"{where}: kernel", cell.kernel, ("I", None), {"I": I})
            arrays = torch_to_keras_weights(*_torch_parameters(torch_lstm, k, bool(reverse)))
            variables = (cell.kernel, cell.recurrent_kernel, cell.bias)
            for variable, array in zip(variables, arrays, strict=True):
                if variable is not None:
                    variable.assign(array.astype(variable.dtype))
    return keras_layers


def torch_to_keras_dense(linear, dense):
    """Copy a ``torch.nn.Linear`` into a ``keras.layers.Dense`` (built here if needed),
    in place: Keras's ``kernel: (in, out)`` is torch's ``weight: (out, in)`` transposed,
    the bias is the same. Returns ``dense``."""
    weight = _as_numpy(linear.weight)
    if dense.units != weight.shape[0]:
        raise ShapeError(
            f"Dense has units={dense.units}, the Linear out_features={weight.shape[0]}"
        )
    if dense.use_bias != (linear.bias is not None):
        raise ValueError("the Dense layer and the Linear must both have a bias or neither")
    if not dense.built:
        dense.build((None, weight.shape[1]))
    check_shape("Dense kernel", dense.kernel, (weight.shape[1], weight.shape[0]))
    dense.kernel.assign(weight.T.astype(dense.kernel.dtype))
    if linear.bias is not None:
        dense.bias.assign(_as_numpy(linear.bias).astype(dense.bias.dtype))
    return dense


def keras_to_torch_linear(dense, linear):
    """Copy a built ``keras.layers.Dense`` into a ``torch.nn.Linear``, in place (the
    kernel transposed, the same bias). Returns ``linear``."""
    if dense.use_bias != (linear.bias is not None):
        raise ValueError("the Dense layer and the Linear must both have a bias or neither")
    kernel = _as_numpy(dense.kernel)
    out_features, in_features = linear.weight.shape
    check_shape("Dense kernel", kernel, (in_features, out_features))
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(kernel.T))
        if linear.bias is not None:
            linear.bias.copy_(torch.as_tensor(_as_numpy(dense.bias)))
    return linear


__all__ = [
    "keras_to_torch_linear",
    "keras_to_torch_lstm",
    "keras_to_torch_weights",
    "torch_to_keras_dense",
    "torch_to_keras_lstm",
    "torch_to_keras_weights",
]
