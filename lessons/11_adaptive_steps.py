# %% [markdown]
# # 11 · Adaptive steps: RMSprop, Adam, AdamW
#
# Every optimiser so far used one learning rate for every parameter. Lesson
# 03 showed the price: the rate has to suit the steepest direction, so the
# flat ones crawl. Momentum (lesson 07) builds up speed along the flat floor
# of a valley, but the rate itself is still shared. The adaptive methods
# give each parameter its own step size, and they learn it from that
# parameter's own gradients: divide the gradient by a running measure of
# how large it has been. A parameter whose gradients are large gets a small
# step size, one whose gradients are small a large one, and the steps that
# come out are of much the same length in every direction.
#
# We build RMSprop's and Adam's rules up from that idea, write Adam's step by
# hand and check it against two implementations at every step, watch four
# optimisers walk down lesson 07's valley, measure how Adam evens out the
# steps, race five optimisers on lesson 05's network, and end with the one
# detail that separates Adam from AdamW: where the weight decay goes.

# %%
import math

import torch

from toolkit import data, lesson, manual, plots
from toolkit.exercises import check_adam_step
from toolkit.landscape import grid_around, loss_on_plane
from toolkit.optim import SGD, Adam, AdamW, RMSprop
from toolkit.twins import linear_twins_at, make_twins

# lr: Adam's learning rate on lesson 05's network (the main run); every other run sets its own.
run = lesson.start("11_adaptive_steps", steps=150, lr=0.03)

# %% [markdown]
# ## Lesson 07's valley, once more
# The same long valley as lesson 07, f(x₁, x₂) = 0.1·x₁² + 2·x₂², built as a
# network in the same way: `Linear(2, 1)` without a bias, whose weight is
# the point (x₁, x₂), fed the inputs (√0.2, 0) and (0, 2) with targets 0,
# under the mean squared error. Its gradient, (0.2·x₁, 4·x₂), comes from
# backpropagation. At the start (−5, −2) that is (−1, −8): the steep
# direction pulls eight times harder than the flat one, although the flat
# one is two and a half times farther from home.

# %%
START = [-5.0, -2.0]
valley_x = torch.tensor([[math.sqrt(0.2), 0.0], [0.0, 2.0]], dtype=run.dtype, device=run.device)
valley_y = torch.zeros(2, 1, dtype=run.dtype, device=run.device)
VALLEY_STEPS = min(run.steps, 40)


def valley_twins():
    """f as a network, as lesson 07 built it: Linear(2, 1) without a bias, starting at START."""
    return linear_twins_at([START], manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)


valley = valley_twins()
run.check(valley, valley_x, valley_y)

# %% [markdown]
# ## RMSprop: divide by the gradient's recent size
# RMSprop keeps, for every parameter, a running mean of its squared
# gradient, v (starting at 0), and divides the gradient by its root:
#
#     v ← α·v + (1 − α)·g²
#     θ ← θ − lr · g / (√v + ε)
#
# √v is the root mean square of the recent gradients, over roughly the last
# 1/(1 − α) steps. If a gradient keeps its size, g/√v is about ±1 whatever
# that size is: the step is about lr in the steep direction and in the flat
# one alike. ε (10⁻⁸) only keeps the division finite where v is 0.
#
# ## Adam: momentum over RMSprop, corrected for the start
# Adam keeps two running means per parameter, of the gradient (m, the
# velocity of lesson 07, averaged instead of summed) and of its square (v,
# RMSprop's), and divides one by the root of the other:
#
#     m ← β₁·m + (1 − β₁)·g            m̂ = m / (1 − β₁ᵗ)
#     v ← β₂·v + (1 − β₂)·g²           v̂ = v / (1 − β₂ᵗ)
#     θ ← θ − lr · m̂ / (√v̂ + ε)
#
# with the defaults β₁ = 0.9, β₂ = 0.999 and ε = 10⁻⁸ (torch's, and ours).
# Both means start at 0, so early on they are too small: after one step
# m = (1 − β₁)·g, a tenth of the gradient, and v = (1 − β₂)·g², a
# thousandth of its square. Dividing by (1 − β₁ᵗ) at step t undoes exactly
# that shrinking (for a gradient that stays the same, m = (1 − β₁ᵗ)·g), and
# dividing by (1 − β₂ᵗ) does the same for v.
#
# At the first step m̂ = g and v̂ = g², so every parameter moves by
# lr·g/(|g| + ε): lr times the sign of its gradient, whatever the
# gradient's size. Here is that step as a function of plain tensors, the
# exercise of this lesson:

# %%
def adam_step(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step for one parameter tensor; returns the new (theta, m, v).

    theta, g, m, v: tensors of one shape (the parameter, its gradient and the
    two running means, which start as zeros); t: this step's number, from 1.
    """
    # exercise adam_step: update the running means m and v, correct them for their start at 0, and step theta
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    theta = theta - lr * m_hat / (v_hat.sqrt() + eps)
    return theta, m, v
    # end exercise


# %% [markdown]
# ## Checking the step by hand, at every step
# Three walkers start at (−5, −2) with lr = 0.3: the hand-written network
# stepped by `adam_step`, a copy of it stepped by our `toolkit.optim.Adam`,
# and the `torch.nn` twin stepped by `torch.optim.Adam`. Each computes its
# own gradient (by hand, by hand, by autograd). After every step all three
# must stand on the same point, up to rounding. Our `Adam` computes the same
# quantities in torch's order (lr/(1 − β₁ᵗ) times m/(√v/√(1 − β₂ᵗ) + ε)), so
# it and the function above differ by a rounding error or two.

# %%
ADAM_VALLEY_LR = 0.3


def gradient_by_hand(twins):
    """The loss of the hand-written network at its current weight, with dL/dθ left in .grad."""
    twins.manual_net.zero_grad()
    loss = twins.manual_loss(twins.manual_net(valley_x), valley_y)
    twins.manual_net.backward(twins.manual_loss.backward(), input_grad=False)
    return loss


by_hand, by_library = valley_twins(), valley_twins()
weight = by_hand.manual_net[0].weight
m, v = torch.zeros_like(weight), torch.zeros_like(weight)
ours = Adam(by_library.manual_net.parameters(), lr=ADAM_VALLEY_LR)
torchs = torch.optim.Adam(by_hand.torch_net.parameters(), lr=ADAM_VALLEY_LR, foreach=False)
largest = 0.0           # the largest |difference| between the three at any step
steps_by_hand = []      # what adam_step did at every step: (theta, v_hat)
for t in range(1, VALLEY_STEPS + 1):
    gradient_by_hand(by_hand)
    gradient_by_hand(by_library)
    torchs.zero_grad()
    by_hand.torch_loss(by_hand.torch_net(valley_x), valley_y).backward()
    with torch.no_grad():
        new_weight, m, v = adam_step(weight, weight.grad, m, v, t, lr=ADAM_VALLEY_LR)
        weight.copy_(new_weight)
    ours.step()
    torchs.step()
    reference = by_hand.torch_net[0].weight.detach()
    for other in (weight, by_library.manual_net[0].weight):
        gap = (other - reference).abs().max().item()
        largest = max(largest, gap if math.isfinite(gap) else math.inf)
    steps_by_hand.append((weight.detach().clone().flatten(), (v / (1 - 0.999 ** t)).flatten()))

agree = largest <= 1e-12
print(f"after {VALLEY_STEPS} steps: adam_step, toolkit.optim.Adam and torch.optim.Adam differed by at most "
      f"{largest:.1e} at any step: " + ("they agree" if agree else "THEY DISAGREE: look at adam_step again"))
run.record("adam_step_check", {"steps": VALLEY_STEPS, "largest_difference": largest if math.isfinite(largest) else None,
                               "agree": agree})
if not agree:
    check_adam_step(run, adam_step, lr=ADAM_VALLEY_LR)   # names the mistake; a student's version stops here

first_step = steps_by_hand[0][0] - torch.tensor(START, dtype=run.dtype, device=run.device)
print(f"the first step: Δθ = ({first_step[0].item():.10f}, {first_step[1].item():.10f}); the gradient was (−1, −8), "
      f"so lr·g/(|g| + ε) = ({ADAM_VALLEY_LR / (1 + 1e-8):.10f}, {ADAM_VALLEY_LR * 8 / (8 + 1e-8):.10f})")

# %% [markdown]
# Both coordinates moved by 0.3, short of it by lr·ε/(|g| + ε), at most
# 3·10⁻⁹: the gradient's eight-to-one ratio is gone. Plain gradient descent
# with lr = 0.4 would have moved them by 0.4 and 3.2.
#
# From here on the library's `Adam` does the work, and `run.train` checks
# the two twins against each other at every step as usual.
#
# ## Four walkers on one valley
# Plain gradient descent and the heavy ball (β = 0.5) at lr = 0.4, as in
# lesson 07; RMSprop at d2l's settings, lr = 0.4 and α = 0.9; and Adam at
# lr = 0.3.

# %%
walkers = {
    "gradient descent, lr = 0.4": (SGD, {"lr": 0.4}),
    "momentum β = 0.5, lr = 0.4": (SGD, {"lr": 0.4, "momentum": 0.5}),
    "RMSprop α = 0.9, lr = 0.4": (RMSprop, {"lr": 0.4, "alpha": 0.9}),
    f"Adam, lr = {ADAM_VALLEY_LR:g}": (Adam, {"lr": ADAM_VALLEY_LR}),
}
valley_runs = {}
for name, (optimizer, options) in walkers.items():
    valley_runs[name] = run.train(valley_twins(), valley_x, valley_y, steps=VALLEY_STEPS, optimizer=optimizer,
                                  label=f"valley: {name}", main=False, **options)
rmsprop_run = valley_runs["RMSprop α = 0.9, lr = 0.4"]
if rmsprop_run.steps >= 20:
    x1, x2 = rmsprop_run.path_manual[20].tolist()
    print(f"RMSprop after 20 steps: ({x1:.6f}, {x2:.6f}); d2l, whose ε sits inside the root, "
          "prints (−0.010599, 0.000000)")
for name, history in valley_runs.items():
    distance = history.path_manual[-1].norm().item()
    print(f"   {name}: after {history.steps} steps at distance {distance:.3g} from the minimum")

# %% [markdown]
# All four on the same exact contour of f (the weight is the point, so
# nothing is projected), each drawn once per twin.

# %%
# One colour per optimiser, the same in every figure of this lesson (Adam + L2 comes at the end).
COLORS = {"gradient descent": plots.RUN_COLORS[4], "momentum": plots.RUN_COLORS[1], "RMSprop": plots.RUN_COLORS[2],
          "Adam": plots.RUN_COLORS[3], "AdamW": plots.RUN_COLORS[0], "Adam + L2": plots.RUN_COLORS[5]}


def color_of(name):
    """The colour of the optimiser a run's name starts with (the longest match: "AdamW" before "Adam")."""
    return COLORS[max((kind for kind in COLORS if name.startswith(kind)), key=len)]


alphas, betas = grid_around(torch.cat([h.path_manual for h in valley_runs.values()]), margin=0.08)
eye = torch.eye(2, dtype=run.dtype, device=run.device)
Z = loss_on_plane(valley.torch_net, valley.torch_loss, valley_x, valley_y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                  alphas=alphas, betas=betas)
run.save(plots.adaptive_steps.adaptive_paths(alphas, betas, Z,
                              [{"label": name, "color": color_of(name), "manual_path": history.path_manual,
                                "autograd_path": history.path_autograd, "diverged_at": history.diverged_at_step}
                               for name, history in valley_runs.items()],
                              xlabel="x₁ (flat)", ylabel="x₂ (steep)",
                              note=f"f = 0.1·x₁² + 2·x₂², {VALLEY_STEPS} steps"),
         "adaptive_paths",
         caption="Four optimisers walk down f = 0.1·x₁² + 2·x₂² from (−5, −2), drawn on the exact contour of f. "
                 "Gradient descent and the heavy ball zigzag across the steep direction; RMSprop and Adam "
                 "start along the diagonal, because their first steps are equally long in both coordinates. "
                 "Each path is drawn for both twins: circles for the hand-written network, crosses for "
                 "torch.nn inside them, and they coincide.",
         alt="A filled contour plot of a long elliptical valley, wider along x1 than along x2, with its minimum "
             "at the origin. From a square at (-5, -2) four coloured paths lead towards the minimum: black "
             "(gradient descent) and green (momentum) zigzag up and down across the valley while creeping "
             "right; orange (RMSprop) heads up and to the right and settles on the valley floor quickly; pink "
             "(Adam) first moves along the diagonal, overshoots above the floor in a wide arc past the minimum "
             "and turns back towards it. Every circle on each path holds a small cross.")

# %% [markdown]
# Gradient descent's first step is eight times longer across the valley
# than along it, so it zigzags across and creeps along; the heavy ball
# zigzags too, but builds up speed along the floor. RMSprop and Adam set off
# along the diagonal: equal steps in both coordinates. RMSprop's first step
# is 1.26 in each, more than three times its lr of 0.4: after one step
# v = (1 − α)·g², so g/√v = 1/√(1 − α) ≈ 3.2. That is the start-up error
# Adam's correction removes. RMSprop then reaches the floor without a
# zigzag and runs along it to the minimum, the closest of the four after 40
# steps. Adam carries its momentum (β₁ = 0.9) past the floor, swings out in
# a wide arc past the minimum and turns back: its steps stay about lr long
# as long as the gradient keeps its sign, even close to the minimum, where
# gradient descent's steps shrink with the gradient. After 40 steps it is
# still swinging back, the farthest of the four from the minimum (0.43,
# against 0.18 for gradient descent), with steps still about 0.05 long in
# each coordinate (left panel below). Shrinking lr as training goes on,
# lesson 12's learning-rate schedules, is one way to make it settle.
#
# ## How long is each step?
# Left: how far each coordinate moved per step, for gradient descent and
# for Adam (from the recorded paths of both twins). Right: Adam's step size
# per coordinate, lr/(√v̂ + ε), from the function above at every step. At the
# first step it is lr/|g|: 0.3 along x₁ (|g| = 1) and 0.3/8 = 0.0375 across
# (|g| = 8), so that the step itself is 0.3 in both.

# %%
def length_ratio(history, steps):
    """Over the first ``steps`` steps: the longer coordinate's step over the shorter one's, on average."""
    moves = (history.path_manual[1:steps + 1] - history.path_manual[:steps]).abs()
    return (moves.max(dim=1).values / moves.min(dim=1).values).mean().item()


gd_run = valley_runs["gradient descent, lr = 0.4"]
adam_run = valley_runs[f"Adam, lr = {ADAM_VALLEY_LR:g}"]
v_hat = torch.stack([v_hat for _, v_hat in steps_by_hand]).cpu()
step_size = ADAM_VALLEY_LR / (v_hat.sqrt() + 1e-8)
print(f"Adam's step size at step 1: {step_size[0, 0].item():.6f} along x₁ and {step_size[0, 1].item():.6f} "
      f"across (lr/|g| = 0.3 and 0.0375)")
early = min(10, gd_run.steps, adam_run.steps)
step_ratios = {"gradient_descent": length_ratio(gd_run, early), "adam": length_ratio(adam_run, early)}
print(f"over the first {early} steps the longer coordinate's step was on average "
      f"{step_ratios['gradient_descent']:.3g} times the shorter one's for gradient descent, "
      f"{step_ratios['adam']:.3g} times for Adam")
run.record("step_length_ratio", {"steps": early, **step_ratios})
run.save(plots.adaptive_steps.adaptive_step_sizes(
    [{"label": "gradient descent, lr = 0.4", "color": color_of("gradient descent"),
      "manual_path": gd_run.path_manual, "autograd_path": gd_run.path_autograd},
     {"label": f"Adam, lr = {ADAM_VALLEY_LR:g}", "color": color_of("Adam"),
      "manual_path": adam_run.path_manual, "autograd_path": adam_run.path_autograd}],
    {"x₁ (flat)": step_size[:, 0], "x₂ (steep)": step_size[:, 1]}, coordinates=["x₁ (flat)", "x₂ (steep)"],
    effective_color=color_of("Adam"),
    references=[(ADAM_VALLEY_LR, f"Adam's lr = {ADAM_VALLEY_LR:g}"), (0.4, "gradient descent: lr = 0.4, both")],
    first={"x₁ (flat)": ADAM_VALLEY_LR / 1.0, "x₂ (steep)": ADAM_VALLEY_LR / 8.0}),
    "step_sizes",
    caption="Left: the length of each step in each coordinate, on a log scale, for gradient descent and for "
            "Adam on the valley, both twins (crosses on the lines). Gradient descent's steps across the "
            "valley start eight times longer than along it; Adam's start equal, at lr. Right: Adam's step size "
            "lr/(√v̂ + ε) per coordinate: small where the gradients have been large (across), large where they "
            "have been small (along); the open circles are lr/|g| at step 1, where theory says the curves start.",
    alt="Two line charts against the step number, both with logarithmic vertical axes. Left: four lines, two "
        "colours for the two optimisers and solid or dashed for the flat and the steep coordinate; the black "
        "gradient-descent lines start far apart, the dashed one near 3 and the solid one near 0.4, and the "
        "dashed one falls steeply to 1e-8, while the pink Adam lines both start at 0.3 and stay near 0.1 with "
        "two dips. Right: two pink lines, Adam's step size along x1 (solid) and across x2 (dashed), starting "
        "inside grey open circles at 0.3 and 0.0375 and rising slowly, with dotted lines at 0.3 (Adam's lr) "
        "and 0.4 (gradient descent's lr).")

# %% [markdown]
# ## A network: lesson 05's two moons
# Lesson 05's 2-16-16-2 tanh network on the same 200 training points, from
# the same start, trained by five optimisers side by side for the same
# number of steps, each at a learning rate that suits it: gradient descent
# at lesson 05's lr = 0.5, the heavy ball with β = 0.9 at the same lr,
# RMSprop at 0.01, and Adam and AdamW at 0.03 (AdamW with its default
# weight_decay = 0.01). Adam's and RMSprop's rates are much smaller than
# gradient descent's because they are not multiplied by the gradient's size:
# lr is, roughly, how far each parameter moves per step.

# %%
points, labels = data.two_moons(n=400, noise=0.15, seed=run.seed, device=run.device, dtype=run.dtype)
order = torch.randperm(400, generator=torch.Generator().manual_seed(run.seed)).to(run.device)   # CPU: same split
x, y = points[order[:200]], labels[order[:200]]                       # lesson 05's training half


def moons_twins():
    return make_twins([2, 16, 16, 2], activation="tanh", loss=manual.CrossEntropyLoss(), seed=run.seed,
                      device=run.device, dtype=run.dtype)


moons = moons_twins()
run.check(moons, x, y)

# %% [markdown]
# The claim about Adam's first step, on all 354 parameters at once: their
# gradients at the start span several orders of magnitude, and yet each
# one moves by lr times the sign of its gradient, short of it by lr·ε/|g|.

# %%
moons.manual_net.zero_grad()
moons.manual_loss(moons.manual_net(x), y)
moons.manual_net.backward(moons.manual_loss.backward(), input_grad=False)
gradient = torch.cat([p.grad.flatten() for p in moons.manual_net.parameters()])
before = torch.cat([p.detach().flatten().clone() for p in moons.manual_net.parameters()])
Adam(moons.manual_net.parameters(), lr=run.lr).step()
moved = torch.cat([p.detach().flatten() for p in moons.manual_net.parameters()]) - before
off_sign = (moved + run.lr * gradient.sign()).abs().max().item()
bound = (run.lr * 1e-8 / gradient.abs()).max().item()
print(f"|g| at the start ranges from {gradient.abs().min().item():.1e} to {gradient.abs().max().item():.1e}; "
      f"after one Adam step every |Δθ| lies within {off_sign:.1e} of lr = {run.lr:g} "
      f"(the bound lr·ε/min|g| is {bound:.1e})")
run.record("adam_first_step", {"lr": run.lr, "largest_gap_to_lr_sign_g": off_sign, "bound": bound})

# %%
racers = {
    "gradient descent, lr = 0.5": (SGD, {"lr": 0.5}),
    "momentum β = 0.9, lr = 0.5": (SGD, {"lr": 0.5, "momentum": 0.9}),
    "RMSprop, lr = 0.01": (RMSprop, {"lr": 0.01}),
    f"Adam, lr = {run.lr:g}": (Adam, {"lr": run.lr}),
    f"AdamW, lr = {run.lr:g}, weight_decay = 0.01": (AdamW, {"lr": run.lr, "weight_decay": 0.01}),
}
kept = {}        # each run's optimiser of the hand-written twin, to read its state afterwards


def keeping(name, optimizer, net):
    """The optimiser class, wrapped to keep under ``name`` the instance that steps ``net``'s parameters.

    run.train builds one optimiser per twin; the one kept is picked by the
    parameters it was given, so the order in which train builds them does not matter.
    """
    mine = {id(p) for p in net.parameters()}

    def build(params, **options):
        made = optimizer(params, **options)
        if {id(p) for group in made.param_groups for p in group["params"]} == mine:
            kept[name] = made
        return made
    return build


moons_runs = {}
for name, (optimizer, options) in racers.items():
    twins = moons_twins()
    moons_runs[name] = run.train(twins, x, y, optimizer=keeping(name, optimizer, twins.manual_net),
                                 label=f"moons: {name}", main=name.startswith("Adam,"), **options)
final_losses = {name: history.final_loss_manual for name, history in moons_runs.items()}
run.record("final_losses", {name: (value if math.isfinite(value) else None) for name, value in final_losses.items()})
run.save(plots.adaptive_steps.optimizer_losses({name: (history, color_of(name)) for name, history in moons_runs.items()},
                                title=f"Lesson 05's network, {run.steps} steps"),
         "moons_losses",
         caption="The training loss of lesson 05's network under five optimisers, each at a learning rate that "
                 "suits it, on a log scale; for every run the hand-written twin is the line and torch.nn the "
                 "crosses on it. All four leave the plateau near 0.2 well before gradient descent: the heavy "
                 "ball first, then RMSprop, whose loss then saw-tooths and slows, then Adam, which falls "
                 "fastest after that; AdamW runs just above Adam.",
         alt="A line chart of loss on a logarithmic axis against the step, five coloured curves starting at "
             "0.69 and dropping to a plateau near 0.2. Green (momentum) leaves the plateau first, near step "
             "20, and falls below 0.001; orange (RMSprop) leaves near step 25 and levels off near 0.01 with a "
             "jagged line; pink (Adam) and light blue (AdamW) leave near step 45 and fall together to about "
             "0.001; black (gradient descent) leaves last, near step 80, and ends near 0.04. Crosses of the "
             "same colours sit on every line.")

# %% [markdown]
# Gradient descent sits longest on the plateau near 0.2 that lesson 05
# knows. RMSprop and Adam leave it much earlier: on a plateau the gradients
# are small, and dividing them by their own small root mean square turns
# them into full-sized steps. The heavy ball, at lesson 07's effective step
# of 5, gets there first by building up speed instead. RMSprop then slows
# and its loss saw-tooths from step to step: its steps stay about lr long
# even where the gradient has become small, and they overshoot. Adam
# averages the gradient over about ten steps before dividing, which smooths
# those steps, and it falls fastest once it is off the plateau.
#
# ## Weight decay: inside Adam, or beside it
# Weight decay pulls every weight towards 0 a little each step, so that the
# network keeps its weights small unless the data insist. With gradient
# descent there is one way to do it: add λ·θ to the gradient (the gradient
# of the penalty λ/2·‖θ‖²); then θ ← θ − lr·(g + λ·θ) = (1 − lr·λ)·θ − lr·g,
# the same as shrinking θ by the factor (1 − lr·λ) and taking the plain
# step. `torch.optim.Adam`'s `weight_decay` does the same, adding λ·θ
# to the gradient, but then that term goes through Adam's division: the
# decay a weight feels is roughly lr·λ·θ/(√v̂ + ε) (roughly, because λ·θ
# also passes through the running mean m̂ and adds to the gradient whose
# square v̂ averages). It is divided by the weight's
# own gradient size, weak for weights whose gradients are large and strong
# for those whose gradients are small. AdamW (Loshchilov and Hutter) takes
# the decay out of the gradient and applies it beside Adam's step,
#
#     θ ← θ·(1 − lr·λ) − lr · m̂ / (√v̂ + ε)        (m̂ and v̂ of the bare gradient),
#
# so every weight shrinks by the same factor, whatever its gradients. We
# train Adam with L2 at the same lr and λ = 0.01 as AdamW above, and
# compare both with Adam without any decay.

# %%
l2_name = f"Adam + L2, lr = {run.lr:g}, weight_decay = 0.01"
twins = moons_twins()
moons_runs[l2_name] = run.train(twins, x, y, optimizer=keeping(l2_name, Adam, twins.manual_net),
                                label=f"moons: {l2_name}", main=False, weight_decay=0.01)
adam_name, adamw_name = f"Adam, lr = {run.lr:g}", f"AdamW, lr = {run.lr:g}, weight_decay = 0.01"


def v_hat_of(optimizer):
    """Adam's bias-corrected v after its last step, every parameter of the hand-written twin in one vector."""
    beta2 = optimizer.param_groups[0]["betas"][1]
    state = optimizer.state
    return torch.cat([(state[p]["exp_avg_sq"] / (1 - beta2 ** state[p]["step"])).flatten()
                      for p in optimizer.param_groups[0]["params"]]).cpu()


gradient_rms = v_hat_of(kept[adam_name]).sqrt()       # how large each parameter's gradients were, under plain Adam
end = {name: moons_runs[name].path_manual[-1].abs().cpu() for name in (adam_name, adamw_name, l2_name)}
norms = {name: moons_runs[name].path_manual[-1].norm().item() for name in (adam_name, adamw_name, l2_name)}
for name, value in norms.items():
    print(f"   {name}: ‖θ‖ = {value:.3g} at the end, final loss {moons_runs[name].final_loss_manual:.3g}")
run.record("weight_norms", {"adam": norms[adam_name], "adamw": norms[adamw_name], "adam_l2": norms[l2_name]})
l2_factor = 1 / (v_hat_of(kept[l2_name]).sqrt() + 1e-8)
print(f"at the end of the L2 run, 1/(√v̂ + ε), the factor Adam puts on each weight's decay, has median "
      f"{l2_factor.median().item():.3g} (from {l2_factor.min().item():.3g} to {l2_factor.max().item():.3g}); "
      "AdamW's factor is 1 for every weight")
run.record("adam_l2_decay_factor", {"median": l2_factor.median().item(), "min": l2_factor.min().item(),
                                    "max": l2_factor.max().item()})


QUARTERS = 4           # the figure draws the same medians: bins=QUARTERS


def median_ratio_by_quarter(ratio):
    """The median of ``ratio`` over the parameters in each quarter of gradient size, smallest first.

    The quarters hold 89, 89, 88 and 88 parameters; an even count's median is the mean of the middle two.
    """
    groups = torch.tensor_split(gradient_rms.argsort(stable=True), QUARTERS)
    return [ratio[group].quantile(0.5).item() for group in groups]


ratios = {name: end[name] / end[adam_name] for name in (l2_name, adamw_name)}
for name, ratio in ratios.items():
    quarters = ", ".join(f"{value:.2f}" for value in median_ratio_by_quarter(ratio))
    print(f"   {name}: |θ| with decay / without, median per quarter of gradient size (small to large): {quarters}")
run.record("decay_ratio_by_gradient_quarter", {"adam_l2": median_ratio_by_quarter(ratios[l2_name]),
                                                "adamw": median_ratio_by_quarter(ratios[adamw_name])})
decay_colors = {name: color_of(name) for name in (adam_name, adamw_name, l2_name)}
run.save(plots.adaptive_steps.decay_comparison(
    [{"label": "Adam, no decay", "color": decay_colors[adam_name], "history": moons_runs[adam_name]},
     {"label": "Adam + L2 (λ = 0.01)", "color": decay_colors[l2_name], "history": moons_runs[l2_name]},
     {"label": "AdamW (λ = 0.01)", "color": decay_colors[adamw_name], "history": moons_runs[adamw_name]}],
    [{"label": "Adam + L2", "color": decay_colors[l2_name], "ratio": ratios[l2_name]},
     {"label": "AdamW", "color": decay_colors[adamw_name], "ratio": ratios[adamw_name]}],
    gradient_rms, bins=QUARTERS),
    "weight_decay",
    caption=f"Left: the length of all 354 parameters together during training with Adam (no decay), Adam with "
            f"L2 and AdamW, the same lr = {run.lr:g} and λ = 0.01; both twins (crosses on the lines). Right: for "
            "each parameter, its size at the end with decay over its size without, against the size of its "
            "gradients (√v̂ of plain Adam), with the median of each quarter of gradient size. The runs with and "
            "without decay follow different paths, so a single weight's ratio is noisy (a few even end near 10, "
            "larger with decay than without): read the medians. AdamW shrinks every weight by about the same "
            "factor; Adam's L2 shrinks those with small gradients most.",
    alt="Two charts. Left: three lines of the parameter vector's length against the step; the pink line "
        "(Adam, no decay) and the light blue line (AdamW) climb together from about 3.5 to about 11, while the "
        "vermillion line (Adam with L2) stays between 2.5 and 4.5. Right: a scatter on logarithmic axes of a "
        "shrink ratio against gradient size, one dot per parameter, vermillion for Adam with L2 and light "
        "blue for AdamW, with a line through the medians of the four quarters for each; the light blue "
        "medians lie at 1 and are level, the vermillion ones lie between 0.15 and 0.6 and rise towards the "
        "right. The vermillion dots scatter widely, a few as high as 10.")

# %% [markdown]
# With the same lr and λ the two decays are far from the same size (the
# numbers are those of the default seed). AdamW shrinks θ by
# (1 − lr·λ) = 0.9997 per step, about 4% over 150 steps: its parameter
# vector ends barely shorter than plain Adam's (10.9 against 11.1), and on
# the right its medians stay close to 1 at every gradient size. Adam's L2
# term is divided by √v̂ + ε: at the end of its run that factor,
# 1/(√v̂ + ε), has a median of about 400, so a typical weight decays
# hundreds of times faster than under AdamW. The parameter vector ends less
# than half as long (4.4), the loss stalls near 0.045 instead of falling
# below 0.001, and on the right the weights with the smallest gradients are
# shrunk the most, those with the largest the least. Read the medians there,
# not single dots: the runs with and without decay follow different paths,
# so one weight's ratio is noisy, and a few Adam + L2 weights even end about
# ten times larger than without decay. That is why AdamW
# exists: its λ means the same for every weight, whatever its gradients, so
# it can be tuned on its own.

# %%
run.finish()
