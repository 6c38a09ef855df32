"""Lesson 19's figures: a computation graph with its values and gradients, three twins trained side by side,
and the cost of forward against reverse mode.

Computing is the lesson's; these functions only draw what they are given. Each figure's caption and
alt text are templates here (``CAPTIONS``, ``ALT``), filled with the lesson's numbers by ``captioned``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from toolkit.plots import AUTOGRAD, MANUAL, RUN_COLORS, TEXT_BOX, house_style
from toolkit.plots import _integer_steps as integer_steps

ENGINE = {"color": RUN_COLORS[1], "marker": "s", "label": "engine (this lesson's Values)"}
GRADIENT_COLOR = RUN_COLORS[1]          # the backward sweep: gradients and their shares
PARAMETER_EDGE = RUN_COLORS[2]          # the boxes of the parameters (leaves that get trained)


@dataclass
class Node:
    """One Value of a graph, as drawn: its label, value and gradient, its inputs, and where it sits."""

    label: str
    value: float
    grad: float
    inputs: list[int]
    column: int = 0
    row: float = 0.0


def graph_nodes(output, names: dict) -> list[Node]:
    """The Values behind ``output`` (each holding one number), in topological order, laid out in columns.

    names: id(Value) -> its name; an unnamed Value is labelled by its operation, a named one that was
    computed by both ("e (−)"). A node sits one column right of its latest input; the leaves sit just
    left of the node that uses them, above and below it.
    """
    order, seen = [], set()

    def visit(value):
        if value not in seen:
            seen.add(value)
            for source in value.inputs:
                visit(source)
            order.append(value)
    visit(output)
    index = {id(value): k for k, value in enumerate(order)}
    nodes = []
    for value in order:
        name = names.get(id(value))
        label = value.op if name is None else f"{name} ({value.op})" if value.inputs else name
        nodes.append(Node(label, float(value.data), float(value.grad), [index[id(s)] for s in value.inputs]))
    for node in nodes:                                   # columns: the chain from left to right
        if node.inputs:
            node.column = 1 + max(nodes[k].column for k in node.inputs)
    for k, node in enumerate(nodes):                     # the leaves: just left of their first user, off the row
        user = next((other for other in nodes if k in other.inputs), None)
        if not node.inputs and user is not None:
            leaves = [j for j in dict.fromkeys(user.inputs) if not nodes[j].inputs]
            node.column = max(user.column - 1, 0)
            node.row = 1.1 if leaves.index(k) == 0 else -1.1
    return nodes


def graph(nodes: list[Node], *, parameters: set[str], fan_out: dict[str, float], output_name: str = "L") -> Figure:
    """The computation graph: each Value a box with its value and, below it in colour, its gradient; grey
    arrows forward; where a Value is used twice, the share of the gradient each use sends back, in colour.

    fan_out: the name of a Value used twice by one operation -> the share each use sends back.
    """
    with house_style():
        fig = Figure(figsize=(11.0, 3.9), layout="constrained")
        ax = fig.add_subplot()
        for node in nodes:
            for slot, source in enumerate(node.inputs):
                start, end = nodes[source], node
                repeated = node.inputs.count(source) > 1
                bend = (-0.45 if slot == 0 else 0.45) if repeated else 0.0
                ax.annotate("", xy=(end.column - 0.3, end.row), xytext=(start.column + 0.3, start.row),
                            arrowprops={"arrowstyle": "-|>", "color": "0.5", "linewidth": 1.1,
                                        "connectionstyle": f"arc3,rad={bend}", "shrinkA": 0, "shrinkB": 0},
                            zorder=1)
                if repeated:                      # a fan-out: each use sends its own share back
                    middle = ((start.column + end.column) / 2 + 0.05, start.row + (0.52 if slot == 0 else -0.52))
                    share = fan_out[start.label.split(" ")[0]]
                    ax.text(*middle, f"← {share:+.3g}", color=GRADIENT_COLOR, ha="center", va="center",
                            bbox=TEXT_BOX, zorder=3)
        for node in nodes:
            is_parameter = node.label in parameters
            ax.text(node.column, node.row + 0.05, f"{node.label}\n{node.value:+.3f}", ha="center", va="bottom",
                    zorder=4, bbox={"boxstyle": "round,pad=0.35", "facecolor": "white" if not node.inputs else "0.93",
                                    "edgecolor": PARAMETER_EDGE if is_parameter else "0.4",
                                    "linewidth": 2.0 if is_parameter else 1.0})
            ax.text(node.column, node.row - 0.05, f"∂L {node.grad:+.3g}", ha="center", va="top", zorder=4,
                    color=GRADIENT_COLOR, bbox={"boxstyle": "round,pad=0.25", "facecolor": "white",
                                                "edgecolor": GRADIENT_COLOR, "linewidth": 0.8})
        columns = max(node.column for node in nodes)
        ax.annotate("the backward sweep: from L back to every leaf", xy=(0, -1.9), xytext=(columns, -1.9),
                    color=GRADIENT_COLOR, ha="right", va="center",
                    arrowprops={"arrowstyle": "-|>", "color": GRADIENT_COLOR, "linewidth": 1.5})
        ax.set_xlim(-0.6, columns + 0.6)
        ax.set_ylim(-2.1, 1.75)
        ax.axis("off")
        handles = [Line2D([], [], color="0.5", marker=">", markersize=5, label="forward: an input of an operation"),
                   Line2D([], [], color="white", marker="s", markersize=10, markeredgecolor=PARAMETER_EDGE,
                          markeredgewidth=2, linestyle="none", label="a parameter (the other leaves: data)"),
                   Line2D([], [], color=GRADIENT_COLOR, marker="s", markersize=9, markerfacecolor="white",
                          linestyle="none", label=f"∂L: the gradient ∂{output_name}/∂(that value)"),
                   Line2D([], [], color=GRADIENT_COLOR, linestyle="none", marker="$←$", markersize=9,
                          label="the share of ∂L each use of a value sends back")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2)
    return fig


def three_twins(by_hand, by_engine) -> Figure:
    """Left: the loss per step of the three twins. Right: how far apart their gradients are at every step.

    by_hand, by_engine: the Histories of the two runs, each beside the same torch.nn twin.
    """
    with house_style():
        fig = Figure(figsize=(9.6, 3.7), layout="constrained")
        left, right = fig.subplots(1, 2)
        steps = np.arange(len(by_hand.loss_manual))
        every = max(1, len(steps) // 20)
        left.plot(steps, by_hand.loss_manual, color=MANUAL["color"], marker="o", markersize=5, markevery=every,
                  label=MANUAL["label"])
        left.plot(steps[every // 2::every], np.asarray(by_engine.loss_manual)[every // 2::every], linestyle="none",
                  color=ENGINE["color"], marker=ENGINE["marker"], markersize=4.5, markerfacecolor="none",
                  label=ENGINE["label"])
        left.plot(steps[::every], np.asarray(by_hand.loss_autograd)[::every], linestyle="none",
                  color=AUTOGRAD["color"], marker="x", markersize=3.5, label=AUTOGRAD["label"])
        left.set_yscale("log")
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("training loss (log scale)")
        left.set_title("Three twins, one curve")

        floor = 1e-19
        # The two lie on each other: small filled circles inside larger hollow squares.
        for history, color, style, label in (
                (by_engine, ENGINE["color"], {"marker": "s", "markersize": 6, "markerfacecolor": "none"},
                 "engine against autograd"),
                (by_hand, MANUAL["color"], {"marker": "o", "markersize": 2.5}, "hand-written against autograd")):
            largest = np.array([max(step.values()) for step in history.grad_diff])
            right.plot(steps[:len(largest)], np.maximum(largest, floor), color=color, linestyle="none", label=label,
                       **style)
        engine_vs_hand = np.abs(by_engine.path_manual.cpu().numpy() - by_hand.path_manual.cpu().numpy()).max(axis=1)
        right.plot(np.arange(len(engine_vs_hand)), np.maximum(engine_vs_hand, floor), color="black", linewidth=1.2,
                   label="engine against hand-written: parameters")
        right.set_yscale("log")
        right.set_ylim(floor / 3, 1e-12)
        right.axhline(floor, color="0.6", linestyle=":", linewidth=1.0)
        right.text(0.02, floor * 1.6, "exactly 0", transform=right.get_yaxis_transform(), color="0.35")
        right.set_xlabel("step")
        integer_steps(right)
        right.set_ylabel("largest difference (log scale)")
        right.set_title("How far apart, at every step")
        handles, labels = left.get_legend_handles_labels()
        more, more_labels = right.get_legend_handles_labels()
        fig.legend(handles + more, labels + more_labels, loc="outside lower center", ncols=3)
    return fig


def modes(counts: list[dict]) -> Figure:
    """Multiply-adds of one forward pass and of the whole gradient by reverse and by forward mode, against P.

    counts: one dict per network with parameters, forward, reverse and forward_mode.
    """
    P = np.array([c["parameters"] for c in counts], dtype=float)
    with house_style():
        fig = Figure(figsize=(6.0, 4.0), layout="constrained")
        ax = fig.add_subplot()
        for key, color, marker, label in (
                ("forward_mode", RUN_COLORS[2], "^", "the gradient by forward mode: P passes"),
                ("reverse", RUN_COLORS[1], "s", "the gradient by reverse mode: one sweep back"),
                ("forward", "black", "o", "one forward pass (the loss alone)")):
            ax.plot(P, [c[key] for c in counts], color=color, marker=marker, label=label)
        for c in counts[-1:]:
            ax.annotate(f"{c['forward_mode'] / c['reverse']:,.0f} times\nthe work",
                        (c["parameters"], c["forward_mode"]), textcoords="offset points", xytext=(-6, -4),
                        ha="right", va="top", bbox=TEXT_BOX)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("parameters P (log scale)")
        ax.set_ylabel("multiply-adds of the matrix products (log scale)")
        ax.set_title("One loss, P parameters: reverse mode wins by about P")
        ax.legend(loc="upper left")
    return fig


CAPTIONS = {
    "graph": (
        "The graph of one prediction and its loss, ŷ = w₂·tanh(w₁·x + b₁) + b₂ and L = mean(e·e) with "
        "e = ŷ − y, built by the engine from Values; the arrows run forward, from each input to the operation "
        "that uses it. Each box holds its value (black) and, after L.backward(), its gradient ∂L (green), "
        "computed in one sweep from L back to every leaf. The error e is used twice: each use sends back its own "
        "share, {share:+.3g}, and the two add up to its gradient {grad:+.3g} = 2e (the fan-out rule)."),
    "three_twins": (
        "A network of lesson 05's kind, 16 tanh units between two Linear layers, fitting a noisy sine three times over "
        "{steps} steps of SGD (lr = {lr:g}): by hand, by the engine, by torch.nn with torch.autograd, from the "
        "same start. Left: one loss curve. Right: the largest gradient difference to autograd at every step "
        "(at most {largest:.1e}), and the engine's parameters against the hand-written network's: {apart}."),
    "modes": (
        "The work (multiply-adds in the matrix products, counted by torch.utils.flop_counter) to get the "
        "gradient of a loss for two-hidden-layer tanh networks of growing width: one forward pass, reverse mode "
        "(one forward pass and one sweep back, about three forward passes), and forward mode, which needs one "
        "pass per parameter. At P = {parameters:,} forward mode does {ratio:,.0f} times the work."),
}

ALT = {
    "graph": (
        "A chain of boxes from left to right: x and w1 feed a product, b1 an addition, then tanh, w2 a product, "
        "b2 an addition, y a subtraction giving e, which feeds a product twice through two curved arrows, then "
        "mean gives L. Every box shows a value and, in a green box below it, a gradient; the two curved arrows "
        "from e carry green labels with a left-pointing arrow and the same number, and a long green arrow along "
        "the bottom points from right to left."),
    "three_twins": (
        "Left: a falling loss curve on a log axis with blue circles, green squares and orange crosses all on the "
        "same line. Right: scattered blue circles and green squares near 1e-16 at every step, and a black line "
        "lying on the dotted floor marked exactly 0."),
    "modes": (
        "Three rising lines on log-log axes against the number of parameters: a black line for one forward pass, "
        "a green line about three times higher, and an orange line that rises much more steeply, ending thousands "
        "of times above the green one."),
}


def captioned(name: str, **numbers) -> dict:
    """``caption`` and ``alt`` for ``run.save``: the templates of figure ``name`` filled with the lesson's numbers."""
    return {"caption": CAPTIONS[name].format(**numbers), "alt": ALT[name].format(**numbers)}
