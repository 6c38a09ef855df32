"""toolkit.plots.inside_autograd: lesson 19's figures.

A computation graph with its values and gradients, three twins trained side by side, and the cost of
forward against reverse mode. The lesson computes; these functions only draw what they are given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from toolkit.plots import style
from toolkit.plots.shared import figure_legend, integer_steps
from toolkit.plots.style import AUTOGRAD_CROSS, MANUAL, MANUAL_LINE, TEXT_BOX, house_style

# The engine, the third twin: hollow green triangles (the twins keep their blue circles and vermillion crosses).
ENGINE = {"color": style.GREEN, "marker": "^", "markerfacecolor": style.NONE, "label": "engine (this lesson's Values)"}
GRADIENT = style.GREEN          # the backward sweep: gradients and their shares
PARAMETER = style.WINE          # the frame of a parameter's box


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

    A Value has ``data``, ``grad``, ``inputs`` and ``op`` (lesson 19's). names: id(Value) -> its name; an
    unnamed Value is labelled by its operation, a named one that was computed by both ("e (−)"). A node sits
    one column right of its latest input; the leaves sit just left of the node that uses them, above and below.
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
    """The computation graph: each Value a box with its value and, below it in colour, its gradient; grey arrows
    forward; where one operation uses a Value twice, the share of the gradient each use sends back, in colour.

    fan_out: the name of such a Value -> the share each use sends back.
    """
    columns = max(node.column for node in nodes)
    with house_style():
        fig = style.figure(11.0, 3.9)
        ax = fig.add_subplot()
        for node in nodes:
            for slot, source in enumerate(node.inputs):
                start, end = nodes[source], node
                repeated = node.inputs.count(source) > 1
                bend = (-0.45 if slot == 0 else 0.45) if repeated else 0.0
                ax.annotate("", xy=(end.column - 0.3, end.row), xytext=(start.column + 0.3, start.row),
                            arrowprops={"arrowstyle": "-|>", "color": style.MID, "linewidth": 1.1,
                                        "connectionstyle": f"arc3,rad={bend}", "shrinkA": 0, "shrinkB": 0},
                            zorder=1)
                if repeated:                      # a fan-out: each use sends its own share back
                    share = fan_out[start.label.split(" ")[0]]
                    middle = ((start.column + end.column) / 2 + 0.05, start.row + (0.52 if slot == 0 else -0.52))
                    ax.text(*middle, f"← {share:+.3g}", color=GRADIENT, ha="center", va="center", bbox=TEXT_BOX,
                            zorder=3)
        for node in nodes:
            is_parameter = node.label in parameters
            ax.text(node.column, node.row + 0.05, f"{node.label}\n{node.value:+.3f}", ha="center", va="bottom",
                    zorder=4, bbox={"boxstyle": "round,pad=0.35", "facecolor": style.PAPER if not node.inputs
                                    else style.PALE, "edgecolor": PARAMETER if is_parameter else style.MID,
                                    "linewidth": 2.0 if is_parameter else 1.0})
            ax.text(node.column, node.row - 0.05, f"∂L {node.grad:+.3g}", ha="center", va="top", zorder=4,
                    color=GRADIENT, bbox={"boxstyle": "round,pad=0.25", "facecolor": style.PAPER,
                                          "edgecolor": GRADIENT, "linewidth": 0.8})
        ax.annotate("the backward sweep: from L back to every leaf", xy=(0, -1.9), xytext=(columns, -1.9),
                    color=GRADIENT, ha="right", va="center",
                    arrowprops={"arrowstyle": "-|>", "color": GRADIENT, "linewidth": 1.5})
        ax.set_xlim(-0.6, columns + 0.6)
        ax.set_ylim(-2.1, 1.75)
        ax.axis("off")
        handles = [Line2D([], [], color=style.MID, marker=">", markersize=5),
                   Patch(facecolor=style.PAPER, edgecolor=PARAMETER, linewidth=2.0),
                   Patch(facecolor=style.PAPER, edgecolor=GRADIENT, linewidth=0.8),
                   Line2D([], [], color=GRADIENT, linestyle="none", marker="$←$", markersize=9)]
        labels = ["forward: an input of an operation", "a parameter (the other leaves: data)",
                  f"∂L: the gradient ∂{output_name}/∂(that value)", "the share of ∂L each use of a value sends back"]
        figure_legend(fig, handles, labels, ncols=2)
    return fig


def three_twins(by_hand, by_engine) -> Figure:
    """Left: the loss per step of the three twins. Right: how far apart they are at every step.

    by_hand, by_engine: the Histories of the two runs, each beside the same torch.nn twin.
    """
    floor = 1e-19                       # where an exact 0 is drawn on the log axis
    with house_style():
        fig, (left, right) = style.panels(9.6, 3.8, 2, 2)
        steps = np.arange(len(by_hand.loss_manual))
        every = max(1, len(steps) // 20)
        left.plot(steps, by_hand.loss_manual, color=MANUAL["color"], label=MANUAL["label"],
                  **{**MANUAL_LINE, "markevery": every, "markersize": 5})
        left.plot(steps[every // 2::every], np.asarray(by_engine.loss_manual)[every // 2::every], linestyle="none",
                  markersize=5, **ENGINE)
        left.plot(steps[::every], np.asarray(by_hand.loss_autograd)[::every], label="autograd (torch.nn)",
                  **AUTOGRAD_CROSS)
        left.set_yscale("log")
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("training loss (log scale)")
        left.set_title("Three twins, one curve")

        # The two lie on each other: small filled circles inside larger hollow triangles.
        for history, style_of, label in (
                (by_engine, {**ENGINE, "markersize": 6.5, "label": None}, "engine against autograd: gradients"),
                (by_hand, {"color": MANUAL["color"], "marker": "o", "markersize": 2.5},
                 "hand-written against autograd: gradients")):
            largest = np.array([max(step.values()) for step in history.grad_diff])
            right.plot(steps[:len(largest)], np.maximum(largest, floor), linestyle="none",
                       **{**style_of, "label": label})
        engine_vs_hand = np.abs(by_engine.path_manual.cpu().numpy() - by_hand.path_manual.cpu().numpy()).max(axis=1)
        right.plot(np.arange(len(engine_vs_hand)), np.maximum(engine_vs_hand, floor), color=style.BLACK,
                   linewidth=1.2, label="engine against hand-written: parameters")
        right.set_yscale("log")
        right.set_ylim(floor / 3, 1e-12)
        right.axhline(floor, **style.REFERENCE)
        right.text(0.02, floor * 1.6, "exactly 0", transform=right.get_yaxis_transform(), color=style.MID)
        right.set_xlabel("step")
        integer_steps(right)
        right.set_ylabel("largest difference (log scale)")
        right.set_title("How far apart, at every step")
        handles, labels = left.get_legend_handles_labels()
        more, more_labels = right.get_legend_handles_labels()
        figure_legend(fig, handles + more, labels + more_labels, ncols=3)
    return fig


def modes(counts: list[dict]) -> Figure:
    """Multiply-adds of one forward pass and of the whole gradient by reverse and by forward mode, against P.

    counts: one dict per network with parameters, forward, reverse and forward_mode.
    """
    P = np.array([c["parameters"] for c in counts], dtype=float)
    with house_style():
        fig = style.figure(6.0, 4.1)
        ax = fig.add_subplot()
        for key, color, marker, label in (
                ("forward_mode", style.WINE, "^", "the gradient by forward mode: P passes"),
                ("reverse", style.GREEN, "D", "the gradient by reverse mode: one sweep back"),
                ("forward", style.BLACK, "o", "one forward pass (the loss alone)")):
            ax.plot(P, [c[key] for c in counts], color=color, marker=marker, label=label)
        last = counts[-1]
        ax.annotate(f"{last['forward_mode'] / last['reverse']:,.0f} times\nthe work",
                    (last["parameters"], last["forward_mode"]), textcoords="offset points", xytext=(0, -36),
                    ha="right", va="top", bbox=TEXT_BOX)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("parameters P (log scale)")
        ax.set_ylabel("multiply-adds of the matrix products (log scale)")
        ax.set_title("One loss, P parameters: reverse mode wins by about P")
        ax.legend(loc="upper left")
    return fig

