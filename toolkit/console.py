"""Text that reaches any terminal: where the output cannot encode a character, an ASCII stand-in.

The lessons and reports speak in formulas (ŷ, η₀, σ², dL/dθ, ≤, −). A
terminal or pipe that is not UTF-8 (``PYTHONIOENCODING=ascii``, an old
Windows console) cannot encode them, and Python would stop with a
UnicodeEncodeError. ``fit_output_to_terminal`` makes such a stream write
each character it cannot encode as its ASCII stand-in instead: a Greek
letter by its name (η -> eta), a symbol by its ASCII spelling (≤ -> <=,
· -> *), a letter with an accent or a hat by its plain letter (ŷ -> y), a
superscript or subscript after ^ or _ (σ² -> sigma^2), anything else as ?.
"""

from __future__ import annotations

import codecs
import sys
import unicodedata

# Units for ``in_units``, largest first: (size, name).
BYTES = [(1e24, "YB"), (1e21, "ZB"), (1e18, "EB"), (1e15, "PB"), (1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"),
         (1, "B")]
DURATIONS = [(365.25 * 24 * 3600, "years"), (24 * 3600, "days"), (3600, "hours"), (60, "minutes"), (1, "s")]


def in_units(value: float, units: list[tuple[float, str]]) -> str:
    """``value`` in the largest of ``units`` it reaches, to three digits: in_units(2.62e15, BYTES) = "2.62 PB".

    units: [(size, name), ...], largest first (``BYTES``, ``DURATIONS``); a value below the smallest is
    written in the smallest (1.48e-08 s).
    """
    size, name = next(((size, name) for size, name in units if value >= size), units[-1])
    return f"{value / size:.3g} {name}"


ERRORS = "toolkit-ascii"        # the name of the codec error handler registered below

STAND_INS = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "eps", "ζ": "zeta", "η": "eta", "θ": "theta",
    "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi", "ρ": "rho", "σ": "sigma",
    "τ": "tau", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta",
    "Λ": "Lambda", "Π": "Pi", "Σ": "sum", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega", "∇": "grad", "∂": "d",
    "·": "*", "×": "x", "−": "-", "–": "-", "—": "--", "±": "+/-", "≤": "<=", "≥": ">=", "≠": "!=",
    "≈": "~", "→": "->", "←": "<-", "⇒": "=>", "√": "sqrt", "∞": "inf", "‖": "||", "∈": " in ",
    "⌊": "floor(", "⌋": ")", "⌈": "ceil(", "⌉": ")", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...",
    "•": "*", "°": " deg", "∑": "sum", "█": "#", "▏": "|", "▎": "|", "▍": "|", "▌": "|", "▋": "|",
    "▊": "|", "▉": "|",
}


def stand_in(character: str) -> str:
    """The ASCII stand-in for one character (itself, if it is ASCII; nothing for a combining accent)."""
    if character.isascii():
        return character
    if character in STAND_INS:
        return STAND_INS[character]
    if unicodedata.combining(character):
        return ""
    plain = "".join(c for c in unicodedata.normalize("NFKD", character) if not unicodedata.combining(c))
    if plain and plain != character:
        return "".join(stand_in(c) for c in plain)
    return "?"


def ascii_text(text: str) -> str:
    """``text`` in ASCII stand-ins; a run of superscripts is written after ^, a run of subscripts after _
    (σ² -> sigma^2, 10⁻⁸ -> 10^-8, xₙ -> x_n)."""
    pieces, mark = [], ""
    for character in text:
        kind = unicodedata.decomposition(character).split(" ", 1)[0]
        now = {"<super>": "^", "<sub>": "_"}.get(kind, "")
        if now and now != mark:
            pieces.append(now)
        mark = now
        pieces.append(stand_in(character))
    return "".join(pieces)


def _ascii_stand_ins(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return ascii_text(error.object[error.start:error.end]), error.end


codecs.register_error(ERRORS, _ascii_stand_ins)


def fit_output_to_terminal() -> None:
    """Make stdout and stderr write ASCII stand-ins for what their encoding cannot hold (see the module).

    A stream that can encode the toolkit's characters (UTF-8) is left as it
    is, and so is one that cannot be reconfigured (a test's capture, say).
    """
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if not encoding or not hasattr(stream, "reconfigure"):
            continue
        try:
            "ŷ·η₀−σ²≤θᵀ".encode(encoding)
        except UnicodeEncodeError:
            stream.reconfigure(errors=ERRORS)
        except LookupError:
            continue
