# %% [markdown]
# # 19 · What autograd does inside: the graph, the tape and the reverse sweep
#
# Every lesson has checked its hand-written gradients against "autograd",
# torch's automatic differentiation, as if it were an oracle. It is not
# magic. While the forward pass runs, every operation writes down what it
# did: its inputs, and the rule that turns the gradient of its output into
# gradients of its inputs. `backward()` then replays that record, the
# **tape**, from the end to the beginning. Here we build such an engine in
# about a hundred lines (as Karpathy's micrograd does over single numbers; ours
# works on whole tensors), make it a third twin of a small network, and see
# why the reverse direction is the one that suits a loss.

# %%
import torch
from torch.func import functional_call, jvp
from torch.utils.flop_counter import FlopCounterMode

from toolkit import data, diagnose, lesson, manual, plots
from toolkit.exercises import explain
from toolkit.gradient_check import engine_rule_reports
from toolkit.manual.module import accumulate_grad
from toolkit.twins import Twins, make_twins, twin_of

run = lesson.start("19_inside_autograd", steps=100, lr=0.2)

# %% [markdown]
# ## A value that remembers how it was made
# A `Value` holds a tensor (`data`), the gradient of the loss with respect to
# it (`grad`, zeros to begin with), the values it was computed from
# (`inputs`), and `_backward`: its operation's **local rule**. When the
# gradient dL/d(out) has arrived in `out.grad`, the rule adds each input's
# share into that input's `.grad`, by the chain rule:
#
#     dL/d(input) += dL/d(out) · d(out)/d(input)
#
# Each operation below computes its output and, right beside it, its rule;
# each rule is its formula. An operation that broadcast an input over the
# batch (a bias added to every row) used that input once per row, so the
# rule sums the shares back to the input's shape (`unbroadcast`).

# %%
def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes along which a tensor of ``shape`` was broadcast, back to ``shape``."""
    while grad.dim() > len(shape):
        grad = grad.sum(dim=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(dim=axis, keepdim=True)
    return grad


class Value:
    """A tensor in the computation graph, with its gradient and the rule that sends that gradient back."""

    def __init__(self, data, inputs=(), op=""):
        self.data = data
        self.grad = torch.zeros_like(data)
        self.inputs = inputs                  # the Values this one was computed from
        self.op = op                          # what computed it, for printing and drawing
        self._backward = lambda: None         # a leaf (data, a parameter) has no rule

    def __repr__(self):
        return f"Value({self.op or 'leaf'}, shape {tuple(self.data.shape)})"

    def __add__(self, other):
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += unbroadcast(out.grad, self.data.shape)
            other.grad += unbroadcast(out.grad, other.data.shape)
        out._backward = _backward
        return out

    def __sub__(self, other):
        out = Value(self.data - other.data, (self, other), "−")

        def _backward():
            self.grad += unbroadcast(out.grad, self.data.shape)
            other.grad -= unbroadcast(out.grad, other.data.shape)
        out._backward = _backward
        return out

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other), "·")

        def _backward():
            # exercise mul_backward: for out = a·b (self·other) add b·dL/dout into a's .grad and a·dL/dout into b's
            self.grad += unbroadcast(other.data * out.grad, self.data.shape)
            other.grad += unbroadcast(self.data * out.grad, other.data.shape)
            # end exercise
        out._backward = _backward
        return out

    def __matmul__(self, other):
        out = Value(self.data @ other.data, (self, other), "@")

        def _backward():
            self.grad += out.grad @ other.data.T
            other.grad += self.data.T @ out.grad
        out._backward = _backward
        return out

    @property
    def T(self):
        out = Value(self.data.T, (self,), "ᵀ")

        def _backward():
            self.grad += out.grad.T
        out._backward = _backward
        return out

    def tanh(self):
        out = Value(torch.tanh(self.data), (self,), "tanh")

        def _backward():
            # exercise tanh_backward: add dL/da = (1 − tanh(a)²)·dL/dout into self.grad (tanh(a) is out.data)
            self.grad += (1 - out.data ** 2) * out.grad
            # end exercise
        out._backward = _backward
        return out

    def mean(self):
        out = Value(self.data.mean(), (self,), "mean")

        def _backward():
            self.grad += out.grad * torch.ones_like(self.data) / self.data.numel()
        out._backward = _backward
        return out

    def backward(self, grad=None):
        """The reverse sweep: every Value this one depends on, each after all the Values that use it.

        ``grad`` is dL/d(this value), 1 for the loss itself. Values computed
        in the graph start the sweep at zero; the leaves keep adding, as
        torch's ``.grad`` does.
        """
        order, seen = [], set()

        def visit(value):                     # depth first: a value goes after everything it was made from
            if value not in seen:
                seen.add(value)
                for source in value.inputs:
                    visit(source)
                order.append(value)
        visit(self)
        for value in order:
            if value.inputs:
                value.grad = torch.zeros_like(value.data)
        self.grad += torch.ones_like(self.data) if grad is None else grad
        for value in reversed(order):         # from the loss back to the leaves
            value._backward()


# %% [markdown]
# The sweep's order matters: a value's rule may run only once ALL the
# gradient it is owed has arrived, from every operation that used it. A
# depth-first visit lists each value after the values it was made from (a
# topological order); walked backwards, every value comes after all its users.
#
# ## Every rule against torch.autograd
# Before trusting the engine with a network, we check each rule on its own,
# as CS231n checks a layer: random inputs, a random upstream gradient (an
# all-ones one would hide mistakes), and torch.autograd as the reference,
# with the very same expression evaluated by both (a `Value` and a tensor
# answer to the same `+`, `@`, `.tanh()`). Then the sweep again, without
# zeroing: the inputs must hold twice the gradient, as lesson 01's
# accumulation check demands of every layer. `engine_rule_reports` (in
# `toolkit.gradient_check`) does both and returns them as gradient reports,
# which `toolkit.diagnose` reads as it reads a layer's.

# %%
RULES = {  # name: (the expression, its inputs' shapes, the method whose rule it checks)
    "add (broadcast)": (lambda a, b: a + b, [(5, 3), (3,)], Value.__add__),
    "sub": (lambda a, b: a - b, [(5, 3), (5, 3)], Value.__sub__),
    "mul": (lambda a, b: a * b, [(5, 3), (5, 3)], Value.__mul__),
    "matmul": (lambda a, b: a @ b, [(5, 3), (3, 4)], Value.__matmul__),
    "transpose": (lambda a: a.T, [(5, 3)], Value.T.fget),
    "tanh": (lambda a: a.tanh(), [(5, 3)], Value.tanh),
    "mean": (lambda a: a.mean(), [(5, 3)], Value.mean),
}


rule_check = {}
for name, (expression, shapes, method) in RULES.items():
    where = f"the engine's {name} ({name.split()[0].capitalize()})"     # named as a layer is, e.g. "(Tanh)"
    once, twice = engine_rule_reports(expression, Value, shapes, where=where, seed=run.seed, device=run.device,
                                      dtype=run.dtype)
    rule_check[name] = max(row.comparisons[0].max_abs for report in (once, twice) for row in report.rows
                           if row.comparisons)
    verdict = "agrees" if once.ok and twice.ok else "DISAGREES"
    print(f"{name:>16}: {verdict} with torch.autograd (largest difference {rule_check[name]:.1e}, one and two sweeps)")
    if not (once.ok and twice.ok):
        explain(run, diagnose.diagnose(once, twice), method)
run.record("rules", rule_check)

# %% [markdown]
# ## One number used twice: the fan-out rule
# In `e·e` the value e is used twice, so two shares of the gradient arrive
# at it, e·dL/d(e²) from each side, and their sum is the familiar 2e. That is
# why every rule *adds* into `.grad` (`+=`) rather than setting it: a value
# with several users must collect from all of them. A weight shared by every
# row of a batch is the same story, its shares summed over the rows.
#
# The same adding, done on purpose, is why `zero_grad` exists. Run the sweep
# twice and the leaves hold twice the gradient: useful when a batch is too
# big and is split into pieces, a mistake when a training loop forgets to
# clear the gradients between steps. torch behaves identically:

# %%
e = Value(torch.tensor(3.0, dtype=run.dtype, device=run.device))
square = e * e
square.backward()
first = e.grad.item()
square.backward()
print(f"d(e·e)/de at e = 3: {first:g} after one sweep (two shares of 3), {e.grad.item():g} after a second")
t = torch.tensor(3.0, dtype=run.dtype, device=run.device, requires_grad=True)
(t * t).backward()
torch_first = t.grad.item()
(t * t).backward()
print(f"torch: {torch_first:g}, then {t.grad.item():g}; after zero_grad it starts again from 0")

# %% [markdown]
# ## The computation graph of one prediction
# A network with one hidden unit and one sample, ŷ = w₂·tanh(w₁·x + b₁) + b₂,
# and its loss L = mean((ŷ − y)·(ŷ − y)), built from Values: each box is a
# Value, each arrow an input. After `L.backward()` every box holds its
# gradient; the error e = ŷ − y receives two shares, one per use.

# %%
def scalar(number):
    return Value(torch.tensor(number, dtype=run.dtype, device=run.device))


leaves = {"x": scalar(0.5), "w₁": scalar(1.5), "b₁": scalar(-0.3), "w₂": scalar(-0.8), "b₂": scalar(0.2),
          "y": scalar(0.6)}
hidden = (leaves["w₁"] * leaves["x"] + leaves["b₁"]).tanh()
error = leaves["w₂"] * hidden + leaves["b₂"] - leaves["y"]
square = error * error
loss = square.mean()
loss.backward()
share = (error.data * square.grad).item()             # what each use of e sends back: e·∂L/∂(e·e)
print(f"L = {loss.data.item():.4f}; dL/dw₁ = {leaves['w₁'].grad.item():+.4f}, "
      f"dL/dw₂ = {leaves['w₂'].grad.item():+.4f}; "
      f"e receives {share:+.4f} from each of its two uses, dL/de = {error.grad.item():+.4f} = 2e")
names = {id(value): name for name, value in leaves.items()} | {id(hidden): "h", id(error): "e", id(loss): "L"}
nodes = plots.inside_autograd.graph_nodes(loss, names)
run.save(plots.inside_autograd.graph(nodes, parameters={"w₁", "b₁", "w₂", "b₂"}, fan_out={"e": share}), "graph")

# %% [markdown]
# ## The engine as a third twin
# Now a one-hidden-layer cousin of lesson 05's network, a layer of 16 tanh
# units between two Linear layers (1 → 16 → 1, fitting a noisy sine), a
# third time: as Values.
# It speaks the twins' protocol, so the shared training loop can run it: its
# forward pass builds the graph, `backward(dout)` runs one sweep from the
# output, as torch's `output.backward(dout)` does, and the leaves' gradients
# go into the parameters' `.grad`. The loss is a graph of its own,
# mean((ŷ − y)·(ŷ − y)), whose sweep hands dL/dŷ to the network.

# %%
class EngineMLP(manual.Module):
    """Linear, tanh, Linear, computed with Values; the parameters are copies of a hand-written network's."""

    def __init__(self, like):
        super().__init__()
        self.params = {name: p.detach().clone() for name, p in like.named_parameters()}

    def named_parameters(self):
        yield from self.params.items()

    def forward(self, x):
        self.x = Value(x)
        self.leaves = {name: Value(p) for name, p in self.params.items()}
        w1, b1, w2, b2 = self.leaves.values()
        hidden = (self.x @ w1.T + b1).tanh()
        self.out = hidden @ w2.T + b2
        return self.out.data

    def backward(self, dout, input_grad=True):
        self.out.backward(dout)                       # one sweep, from the output back to every leaf
        for name, param in self.params.items():
            accumulate_grad(param, self.leaves[name].grad.clone())
        return self.x.grad if input_grad else None


class EngineMSELoss(manual.MSELoss):
    """mean((ŷ − y)·(ŷ − y)) as a graph of Values; its backward returns dL/dŷ."""

    def forward(self, pred, target):
        self.pred = Value(pred)
        error = self.pred - Value(target)
        self.loss = (error * error).mean()
        return self.loss.data

    def backward(self, dloss=1.0):
        self.loss.backward(torch.as_tensor(dloss, dtype=self.loss.data.dtype, device=self.loss.data.device))
        return self.pred.grad


x, y = data.noisy_sine(n=40, frequency=2.0, noise=0.1, seed=run.seed, device=run.device, dtype=run.dtype)
twins = make_twins([1, 16, 1], activation="tanh", loss=manual.MSELoss(), seed=run.seed, device=run.device,
                   dtype=run.dtype)
engine = Twins(EngineMLP(twins.manual_net), twin_of(twins.manual_net), EngineMSELoss(), twin_of(manual.MSELoss()))
run.check(twins, x, y)
run.check(engine, x, y)

# %% [markdown]
# The shared loop trains two twins side by side and compares them at every
# step. We run it twice from the same start: the hand-written network beside
# torch's, then the engine beside torch's. Torch computes the same numbers
# both times, bit for bit (we check), so at every step all three agree: the
# hand-written gradient, the engine's and autograd's.

# %%
by_hand = run.train(twins, x, y, label="hand-written and torch.autograd")
by_engine = run.train(engine, x, y, label="engine and torch.autograd", main=False)
same_torch = torch.equal(by_hand.path_autograd, by_engine.path_autograd)
engine_vs_hand = (by_engine.path_manual - by_hand.path_manual).abs().max().item()
print(f"torch's two runs are the same bit for bit: {same_torch}; the engine's parameters and the hand-written "
      f"ones differ by at most {engine_vs_hand:.1e} over {by_hand.steps} steps")
run.record("three_twins", {"torch_runs_identical": same_torch, "engine_vs_hand_max_param_diff": engine_vs_hand,
                           "engine_vs_torch_max_grad_diff": by_engine.max_abs_grad_diff,
                           "hand_vs_torch_max_grad_diff": by_hand.max_abs_grad_diff})
run.save(plots.inside_autograd.three_twins(by_hand, by_engine), "three_twins")

# %% [markdown]
# ## Why backwards? Counting the work
# The chain rule can also be applied from the inputs forwards: **forward
# mode** pushes a small change dθ through the network alongside the values
# (torch.func.jvp) and gets dL = gᵀ·dθ, one number: the slope along one
# direction. The whole gradient needs one such pass per parameter, P of
# them. **Reverse mode** pushes dL/d(output) back once and gets all P
# numbers, for about the cost of three forward passes. For one loss and many
# parameters, reverse wins by a factor of about P; for one input and many
# outputs it would be the other way round. We count the multiply-adds of the
# matrix products (`torch.utils.flop_counter`, which counts exactly those)
# for two-hidden-layer tanh networks of growing width.

# %%
def multiply_adds(work):
    with FlopCounterMode(display=False) as counter:
        work()
    return counter.get_total_flops() // 2                  # a multiply-add is two floating-point operations


counts = []
for width in (2, 4, 8, 16, 32, 64):
    net = make_twins([1, width, width, 1], activation="tanh", seed=run.seed, device=run.device, dtype=run.dtype)
    params = {name: p.detach() for name, p in net.torch_net.named_parameters()}
    P = sum(p.numel() for p in params.values())

    def loss_of(values):
        return ((functional_call(net.torch_net, values, (x,)) - y) ** 2).mean()

    def reverse():
        leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
        torch.autograd.grad(loss_of(leaves), list(leaves.values()))

    tangent = {name: torch.ones_like(p) for name, p in params.items()}
    one_jvp = multiply_adds(lambda: jvp(loss_of, (params,), (tangent,)))
    counts.append({"width": width, "parameters": P, "forward": multiply_adds(lambda: loss_of(params)),
                   "reverse": multiply_adds(reverse), "forward_mode": P * one_jvp, "one_jvp": one_jvp})
    print(f"width {width:>2}, P = {P:>5}: a forward pass {counts[-1]['forward']:>9,} multiply-adds; the gradient "
          f"by reverse mode {counts[-1]['reverse']:>10,}, by forward mode {counts[-1]['forward_mode']:>14,} "
          f"({counts[-1]['forward_mode'] / counts[-1]['reverse']:,.0f} times more)")

# %% [markdown]
# Forward mode does give the same gradient, one coordinate per pass; on the
# smallest network we take all P passes and compare with backward's:

# %%
small = make_twins([1, 2, 2, 1], activation="tanh", seed=run.seed, device=run.device, dtype=run.dtype)
small_params = {name: p.detach() for name, p in small.torch_net.named_parameters()}
flat = torch.cat([p.reshape(-1) for p in small_params.values()])
slopes = []
for k in range(len(flat)):
    basis = torch.zeros_like(flat)
    basis[k] = 1.0
    pieces = dict(zip(small_params, basis.split([p.numel() for p in small_params.values()])))
    direction = {name: pieces[name].view_as(p) for name, p in small_params.items()}
    slopes.append(jvp(lambda values: ((functional_call(small.torch_net, values, (x,)) - y) ** 2).mean(),
                      (small_params,), (direction,))[1])
small.torch_loss(small.torch_net(x), y).backward()
backward_gradient = torch.cat([p.grad.reshape(-1) for p in small.torch_net.parameters()])
forward_gap = (torch.stack(slopes) - backward_gradient).abs().max().item()
print(f"{len(flat)} forward-mode passes against one backward pass: largest difference {forward_gap:.1e}")
run.record("modes", {"counts": counts, "forward_mode_vs_backward": forward_gap})
run.save(plots.inside_autograd.modes(counts), "modes")

# %% [markdown]
# Reverse mode costs about three forward passes whatever P is; forward mode
# costs P of its own passes, each about three forward passes. The price of
# reverse mode is memory: the tape must keep every intermediate value until
# the sweep comes back for it (our Values keep `data` for exactly that).
# torch's autograd is this engine, written in C++ with a rule for each of
# its thousands of operations, and with those intermediate gradients freed
# as soon as their rule has run.

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("graph",
             caption=f"The graph of one prediction and its loss, ŷ = w₂·tanh(w₁·x + b₁) + b₂ and L = mean(e·e) with "
                     f"e = ŷ − y, built by the engine from Values; the arrows run forward, from each input to the "
                     f"operation that uses it. Each box holds its value (black) and, after L.backward(), its gradient "
                     f"∂L (green), computed in one sweep from L back to every leaf. The error e is used twice: each "
                     f"use sends back its own share, {share:+.3g}, and the two add up to its gradient "
                     f"{error.grad.item():+.3g} = 2e (the fan-out rule).",
             alt="A chain of boxes from left to right: x and w1 feed a product, b1 an addition, then tanh, w2 a "
                 "product, b2 an addition, y a subtraction giving e, which feeds a product twice through two curved "
                 "arrows, then mean gives L. Every box shows a value and, in a green box below it, a gradient; the "
                 "two curved arrows from e carry green labels with a left-pointing arrow and the same number, and a "
                 "long green arrow along the bottom points from right to left.")
largest = max(by_hand.max_abs_grad_diff, by_engine.max_abs_grad_diff)
apart = "the same bit for bit" if engine_vs_hand == 0 else f"at most {engine_vs_hand:.1e} apart"
run.describe("three_twins",
             caption=f"A one-hidden-layer cousin of lesson 05's network, 16 tanh units between two Linear layers "
                     f"(1 → 16 → 1), fitting a noisy sine "
                     f"three times over {by_hand.steps} steps of SGD (lr = {by_hand.lr:g}): by hand, by the engine, "
                     f"by torch.nn with torch.autograd, from the same start. Left: one loss curve. Right: the largest "
                     f"gradient difference to autograd at every step (at most {largest:.1e}), and the engine's "
                     f"parameters against the hand-written network's: {apart}.",
             alt="Left: a falling loss curve on a log axis, blue circles, hollow green triangles and vermillion "
                 "crosses all on the same line. Right: hollow green triangles with small blue circles inside them "
                 "near 1e-16 at every step, and a black line lying on the dotted floor marked exactly 0.")
run.describe("modes",
             caption=f"The work (multiply-adds in the matrix products, counted by torch.utils.flop_counter) to get "
                     f"the gradient of a loss for two-hidden-layer tanh networks of growing width: one forward pass, "
                     f"reverse mode (one forward pass and one sweep back, about three forward passes), and forward "
                     f"mode, which needs one pass per parameter. At P = {counts[-1]['parameters']:,} forward mode "
                     f"does {counts[-1]['forward_mode'] / counts[-1]['reverse']:,.0f} times the work.",
             alt="Three rising lines on log-log axes against the number of parameters: a black line for one forward "
                 "pass, a green line about three times higher, and a wine-red line that rises much more steeply, "
                 "ending thousands of times above the green one.")
run.finish()
