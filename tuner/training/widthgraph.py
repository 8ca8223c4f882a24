"""The widths in a Keras model's config: every tensor's width as a sum of layer widths, the ties and fixed widths its
layers impose, and those resolved into groups searched as one and layers that stay, each with why. The rules are in
rewiden.py's docstring; this module knows Keras only as config dicts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from math import prod
from typing import Any

WIDTH_KEYS = {"Dense": "units", "LSTM": "units", "GRU": "units", "SimpleRNN": "units", "Conv1D": "filters",
              "Conv2D": "filters", "Conv3D": "filters", "Conv1DTranspose": "filters", "Conv2DTranspose": "filters",
              "Conv3DTranspose": "filters", "SeparableConv1D": "filters", "SeparableConv2D": "filters",
              "Embedding": "output_dim", "MultiHeadAttention": "key_dim"}
KEEPS_WIDTH = {"BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization", "Activation",
               "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
               "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
               "Identity", "Masking", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
               "AveragePooling2D", "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
               "GlobalMaxPooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
               "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
               "UpSampling1D", "UpSampling2D", "UpSampling3D", "RepeatVector", "Resizing", "CenterCrop",
               "RandomCrop", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
               "RandomBrightness", "Normalization", "Rescaling"}
ELEMENTWISE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
RNN = {"LSTM", "GRU", "SimpleRNN"}
DEPTHWISE = {"DepthwiseConv1D", "DepthwiseConv2D"}
# weights shaped by the input's width: a layer of these called on several inputs ties them
SHAPED_BY_INPUT = (set(WIDTH_KEYS) - {"Embedding"}) | DEPTHWISE | {
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "PReLU", "Normalization"}
FOLLOWED = set(WIDTH_KEYS) | KEEPS_WIDTH | ELEMENTWISE | DEPTHWISE | {
    "InputLayer", "Concatenate", "Flatten", "Attention", "AdditiveAttention", "Reshape", "Permute"}
MODELS = {"Functional", "Sequential", "Model"}
Ref = tuple[str, int, int]  # a tensor: layer, node, output
Shape = tuple[Any, ...] | None


@dataclass(frozen=True)
class Group:
    """Width-bearing layers whose widths must stay equal (tied by an element-wise merge), searched as one."""

    name: str  # its first layer's name; several layers: "conv_1+conv_2"
    layers: tuple[str, ...]
    width: int  # the base model's width


@dataclass(frozen=True)
class Found:
    """What the base model offers: the groups to search, the width layers left alone with why, and the layers tuner
    does not follow with what it did instead."""

    groups: tuple[Group, ...]
    fixed: dict[str, str]  # layer name -> why its width stays
    unfollowed: dict[str, str] = field(default_factory=dict)  # layer name -> what it is, what tuner did instead

    def group(self, name: str) -> Group | None:
        """The group that holds layer (or group) `name`."""
        return next((g for g in self.groups if name == g.name or name in g.layers), None)


@dataclass
class Width:
    """A tensor's width: symbol -> coefficient, a symbol being a width layer's name or "@..." a fixed width; for each
    symbol, the layers on the way that changed it (a Concatenate, a Flatten...)."""

    terms: dict[str, int]
    via: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def simple(self) -> str | None:
        """The one symbol this width is, if it is one."""
        if len(self.terms) != 1:
            return None
        ((symbol, coefficient),) = self.terms.items()
        return symbol if coefficient == 1 else None

    def scaled(self, factor: int, step: str) -> Width:
        more = (step,) if factor != 1 else ()
        return Width({s: c * factor for s, c in self.terms.items()},
                     {s: self.via.get(s, ()) + more for s in self.terms})


def summed(widths: list[Width], step: str) -> Width:
    terms: Counter[str] = Counter()
    via: dict[str, tuple[str, ...]] = {}
    for width in widths:
        terms.update(width.terms)
        for s in width.terms:
            via.setdefault(s, width.via.get(s, ()) + (step,))
    return Width(dict(terms), via)


@dataclass
class Node:
    """One call of a layer: its positional input tensors and its tensors given by keyword, each with its shape."""

    layer: dict[str, Any]
    index: int
    args: list[tuple[Ref, Shape]]
    named: dict[str, list[tuple[Ref, Shape]]]

    @property
    def name(self) -> str:
        return self.layer["config"]["name"]

    @property
    def kind(self) -> str:
        return self.layer["class_name"]


class Graph:
    """The model's widths, read from its layers' configs (Sequential or Functional) and resolved by `found()`."""

    def __init__(self, layers: list[dict[str, Any]], sequential: bool, outputs: list[Ref]) -> None:
        self.widths = {l["config"]["name"]: int(l["config"][WIDTH_KEYS[l["class_name"]]]) for l in layers
                       if l["class_name"] in WIDTH_KEYS and _unfollowed(l) is None}
        self.parent = {name: name for name in self.widths}  # union-find over width layers; a fixed set's root is "@"
        self.members = {name: [name] for name in self.widths}  # each unfixed root's layers
        self.const: dict[str, str] = {}  # fixed symbol -> what it is
        self.why: dict[str, str] = {}  # fixed width layer -> why
        self.unfollowed: dict[str, str] = {}
        self.out: dict[tuple[str, int], dict[int, Width]] = {}  # each call's outputs
        self.out[("@input", 0)] = {0: self._constant("@input", "the model's input")}  # what a Sequential starts on
        self.equal: list[tuple[list[Width], str]] = []  # widths that must be equal, where
        self.fixes: list[tuple[Width, str, str]] = []  # a width that cannot change, why (of its layer, of its sum)
        nodes = _nodes(layers, sequential)
        self._walk(nodes)
        self._shared(nodes)
        for ref in outputs:
            width = self._width(ref)
            direct = "{} is the output layer" if width.simple() == ref[0] else \
                f"{{}} feeds the output layer {ref[0]!r}, which keeps its width"
            self.fixes.append((width, direct, "is the model's output"))

    def found(self) -> Found:
        """Ties first, then fixed widths, then what they imply for the rest, until nothing changes."""
        while any([self._settle(widths, where, fix=False) for widths, where in self.equal]):
            pass
        for width, direct, through in self.fixes:
            self._fix_width(width, direct, through)
        while any([self._settle(widths, where, fix=True) for widths, where in self.equal]):
            pass
        order = list(self.widths)
        fixed = {name: self.why[name] for name in order if name in self.why}
        groups = []
        for names in sorted(self.members.values(), key=lambda m: min(order.index(n) for n in m)):
            names = sorted(names, key=order.index)
            if len({self.widths[n] for n in names}) > 1:
                fixed.update({n: f"the layers tied to it ({', '.join(names)}) differ in width" for n in names})
            else:
                groups.append(Group("+".join(names), tuple(names), self.widths[names[0]]))
        return Found(tuple(groups), dict(sorted(fixed.items(), key=lambda kv: order.index(kv[0]))),
                     self.unfollowed)

    # ----------------------------------------------------------------- reading the layers
    def _walk(self, nodes: list[Node]) -> None:
        pending = nodes
        while pending:
            left = []
            for node in pending:
                refs = [r for r, _ in node.args] + [r for refs in node.named.values() for r, _ in refs]
                if all(r[:2] in self.out for r in refs):
                    self.out[(node.name, node.index)] = self._read(node)
                else:
                    left.append(node)
            if len(left) == len(pending):  # a reference tuner cannot place: read it as a fixed width
                self.out[(left[0].name, left[0].index)] = self._read(left[0])
                left = left[1:]
            pending = left

    def _read(self, node: Node) -> dict[int, Width]:
        name, kind, config = node.name, node.kind, node.layer["config"]
        where = f"{kind} {name!r}"
        ins = [self._width(r) for r, _ in node.args]
        named = {key: [self._width(r) for r, _ in refs] for key, refs in node.named.items()}
        if kind == "InputLayer":
            return {0: self._constant(f"@input:{name}", f"the model's input {name!r}")}
        what = _unfollowed(node.layer)
        if what is not None:
            self.unfollowed[name] = f"{kind}, {what}: the widths into it stay as they are"
            for width in ins + [w for ws in named.values() for w in ws]:
                self._feeds(width, f"feeds {where}, {what}")
            return {0: self._constant(f"@{name}", f"the output of {where}")}
        if kind == "MultiHeadAttention":  # key and value take any width; the output is the query's
            query = (ins or named.get("query") or [self._constant(f"@{name}:query", f"the query of {where}")])[0]
            for key, widths in named.items():
                for width in widths if key not in ("query", "key", "value") else []:
                    self._feeds(width, f"feeds {where} as its {key}")
            out = self._constant(f"@{name}", f"the output of {where} (its output_shape)") \
                if config.get("output_shape") else query
            return {0: out, 1: self._constant(f"@{name}:scores", f"the attention scores of {where}")}
        if kind in RNN and "initial_state" in named:
            self.equal.append(([Width({name: 1}), *named.pop("initial_state")], f"{where} (its initial_state)"))
        for key, widths in named.items():
            for width in widths:
                self._feeds(width, f"feeds {where} as its {key}")
        if kind in WIDTH_KEYS:
            groups = int(config.get("groups") or 1)
            if groups > 1:
                self._fix_var(name, f"{{}} is a grouped convolution (groups={groups}): its filters stay a multiple "
                                    f"of its groups")
                for width in ins:
                    self._feeds(width, f"feeds {where}, whose groups ({groups}) must divide its input width")
            return {0: Width({name: 1})}
        if not ins:
            return {0: self._constant(f"@{name}", f"the output of {where}")}
        shapes = [shape for _, shape in node.args]
        if kind in ELEMENTWISE:
            return {0: self._merge(ins, shapes, where)}
        if kind == "Concatenate":
            axis, rank = int(config.get("axis", -1)), len(shapes[0]) if shapes[0] else None
            if axis == -1 or axis == (rank or 0) - 1:
                return {0: summed(ins, where)}
            self.equal.append((ins, f"{where} (on axis {axis})"))
            return {0: ins[0]}
        if kind == "Flatten":
            shape = shapes[0]
            if shape is not None and len(shape) <= 2:
                return {0: ins[0]}
            if shape is not None and all(isinstance(d, int) for d in shape[1:-1]):
                return {0: ins[0].scaled(prod(shape[1:-1]), where)}
            self._feeds(ins[0], f"feeds {where}, whose input shape tuner cannot read")
            return {0: self._constant(f"@{name}", f"the output of {where}")}
        if kind in DEPTHWISE:
            return {0: ins[0].scaled(int(config.get("depth_multiplier", 1)), where)}
        if kind in ("Reshape", "Permute"):
            self._feeds(ins[0], f"feeds {where}, " + ("whose target shape is fixed" if kind == "Reshape" else
                                                     "whose axes tuner does not follow"))
            return {0: self._constant(f"@{name}", f"the output of {where}")}
        if kind in ("Attention", "AdditiveAttention"):
            value = ins[1] if len(ins) > 1 else ins[0]
            self.equal.append(([ins[0], ins[2] if len(ins) > 2 else value], f"{where} (its query and key)"))
            return {0: value, 1: self._constant(f"@{name}:scores", f"the attention scores of {where}")}
        if kind == "Normalization" and _per_channel(config.get("mean"), config.get("axis", -1), shapes[0]):
            self._feeds(ins[0], f"feeds {where}, whose mean and variance are shaped by its input")
        if kind == "Rescaling" and any(_per_channel(config.get(k), -1, shapes[0]) for k in ("scale", "offset")):
            self._feeds(ins[0], f"feeds {where}, whose scale is one number per channel")
        return {0: ins[0]}

    def _merge(self, ins: list[Width], shapes: list[Shape], where: str) -> Width:
        """An element-wise merge: its inputs' widths are equal, but for a width of 1 that broadcasts."""
        last = [shape[-1] if shape else None for shape in shapes]
        broadcast = 1 in last and max(w or 0 for w in last) > 1
        keep = [w for w, x in zip(ins, last, strict=True) if not (broadcast and x == 1)]
        for width in (w for w, x in zip(ins, last, strict=True) if broadcast and x == 1):
            self.fixes.append((width, f"{{}} has width 1 and broadcasts in {where}",
                               f"has width 1 and broadcasts in {where}"))
        if len(keep) > 1:
            self.equal.append((keep, where))
        return keep[0]

    def _shared(self, nodes: list[Node]) -> None:
        calls: dict[str, list[Width]] = {}
        for node in nodes:
            if node.kind in SHAPED_BY_INPUT and node.args:
                calls.setdefault(node.name, []).append(self._width(node.args[0][0]))
        for name, widths in calls.items():
            if len(widths) > 1:
                self.equal.append((widths, f"shared layer {name!r}"))

    def _width(self, ref: Ref) -> Width:
        outs = self.out.get(ref[:2])
        if outs is None:
            return self._constant(f"@{ref[0]}", f"the output of {ref[0]!r}")
        return outs.get(ref[2], outs[0])

    def _constant(self, symbol: str, what: str) -> Width:
        self.const.setdefault(symbol, what)
        return Width({symbol: 1})

    def _feeds(self, width: Width, what: str) -> None:
        self.fixes.append((width, "{} " + what, what))

    # ----------------------------------------------------------------- resolving
    def _root(self, symbol: str) -> str:
        while self.parent.get(symbol, symbol) != symbol:
            symbol = self.parent[symbol]
        return symbol

    def _fix_var(self, layer: str, cause: str) -> bool:
        """Fix `layer` and all tied to it; `cause` says why, of a subject "{}"."""
        root = self._root(layer)
        if root.startswith("@"):
            return False
        for name in self.members.pop(root):
            self.why[name] = _say(cause, "it") if name == layer else f"it is tied to {layer!r}, {_say(cause, 'which')}"
        self.parent[root] = f"@fixed:{layer}"
        self.const[f"@fixed:{layer}"] = f"{layer!r}, which stays as it is"
        return True

    def _fix_width(self, width: Width, direct: str, through: str) -> None:
        symbol = width.simple()
        for s in width.terms if symbol is None else [symbol]:
            if not s.startswith("@"):
                via = width.via.get(s)
                self._fix_var(s, f"{{}} feeds {' then '.join(via)}, whose output {through}" if via else direct)

    def _settle(self, widths: list[Width], where: str, fix: bool) -> bool:
        """Ties the widths' layers where one equals another; with `fix`, fixes those tied to a fixed width and those
        in a sum that must match another. Whether anything changed."""
        changed = False
        for width in widths[1:]:
            normal, other = [self._normal(widths[0])], self._normal(width)  # afresh: a tie changes the roots
            diff = Counter(normal[0][0])
            diff.subtract(other[0])
            var = {s: c for s, c in diff.items() if c and not s.startswith("@")}
            const = {s: c for s, c in diff.items() if c and s.startswith("@")}
            origin = {**other[2], **normal[0][2]}
            if not var:
                continue
            if len(var) == 2 and not const and sum(var.values()) == 0:  # k * a = k * b
                a, b = var
                self.parent[b] = a
                self.members[a] += self.members.pop(b)
                changed = True
            elif fix and len(var) == 1 and len(const) == 1 and abs(sum(var.values())) == 1 \
                    and sum(var.values()) == -sum(const.values()):
                changed |= self._fix_var(origin[next(iter(var))], f"{{}} is tied by {where} to "
                                                                 f"{self.const[next(iter(const))]}")
            elif fix:
                heads = [v[0] for n in (normal[0], other) for v in n[1].values() if v]
                for root in var:
                    via = normal[0][1].get(root) or other[1].get(root)
                    cause = f"{{}} feeds {' then '.join(via)}, whose output must match {where}" if via else \
                        f"{{}} must match the output of {heads[0]} at {where}" if heads else \
                        f"{{}} must match the other inputs of {where}"
                    changed |= self._fix_var(origin[root], cause)
        return changed

    def _normal(self, width: Width) -> tuple[Counter[str], dict[str, tuple[str, ...]], dict[str, str]]:
        """The width over the roots of its symbols: coefficients, the way each came, a layer standing for each."""
        terms: Counter[str] = Counter()
        via: dict[str, tuple[str, ...]] = {}
        origin: dict[str, str] = {}
        for symbol, coefficient in width.terms.items():
            root = self._root(symbol)
            terms[root] += coefficient
            if width.via.get(symbol):
                via.setdefault(root, width.via[symbol])
            origin.setdefault(root, symbol)
        return terms, via, origin


def _say(cause: str, subject: str) -> str:
    return cause.replace("{}", subject, 1)


def _unfollowed(layer: dict[str, Any]) -> str | None:
    """Why tuner does not follow widths through this layer, or None when it does."""
    module = str(layer.get("module") or "")
    if layer.get("registered_name") or (module and not module.startswith("keras")):
        return f"a custom layer ({layer.get('registered_name') or layer['class_name']})"
    if layer["class_name"] in MODELS:
        return "a model inside the model, which tuner does not look into"
    if layer["class_name"] not in FOLLOWED:
        return "a layer type tuner does not follow"
    return None


def _per_channel(value: Any, axis: Any, shape: Shape) -> bool:
    """A mean, variance or scale with one number per channel (the last axis)."""
    if not isinstance(value, (list, tuple)) or len(_flat(value)) <= 1 or axis is None:
        return False
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    rank = len(shape) if shape else None
    return -1 in axes or (rank is not None and rank - 1 in axes)


def _flat(value: Any) -> list[Any]:
    return [x for v in value for x in _flat(v)] if isinstance(value, (list, tuple)) else [value]


def _nodes(layers: list[dict[str, Any]], sequential: bool) -> list[Node]:
    """Every call of every layer, with the tensors it takes."""
    if sequential:
        nodes, previous = [], "@input"
        for layer in layers:
            shape = _shape((layer.get("build_config") or {}).get("input_shape"))
            args = [] if layer["class_name"] == "InputLayer" else [((previous, 0, 0), shape)]
            nodes.append(Node(layer, 0, args, {}))
            previous = layer["config"]["name"]
        return nodes
    nodes = []
    for layer in layers:
        for i, call in enumerate(layer.get("inbound_nodes") or [{}]):
            named = {key: _tensors(value) for key, value in call.get("kwargs", {}).items() if key != "mask"}
            nodes.append(Node(layer, i, _tensors(call.get("args", [])), {k: v for k, v in named.items() if v}))
    return nodes


def _tensors(value: Any) -> list[tuple[Ref, Shape]]:
    """The tensors referred to in a call's arguments, in order."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = value["config"]["keras_history"]
            return [((history[0], int(history[1]), int(history[2])), _shape(value["config"].get("shape")))]
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def _shape(shape: Any) -> Shape:
    return tuple(shape) if isinstance(shape, (list, tuple)) and not any(isinstance(d, (list, tuple)) for d in shape) \
        else None
