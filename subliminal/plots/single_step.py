"""Figures of Chapter 2, the single step."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .style import INIT_COLORS, figure, legend_outside, style_axes


def plot_single_step_seeds(shared: Sequence, cross: Sequence):
    """Per seed: cos(Δθ_T, Δθ_S) (left) and the agreement of Δθ_S with the Gauss-Newton prediction
    (right), for students at the teacher's init (``shared``) and at a fresh init (``cross``)."""
    fig, (ax1, ax2) = figure(1, 2)
    for checks, init, offset in ((shared, "shared", -0.12), (cross, "cross", 0.12)):
        seeds = np.arange(len(checks))
        name = "shared init" if init == "shared" else "different init"
        ax1.bar(seeds + offset, [c.cos for c in checks], width=0.24, color=INIT_COLORS[init], label=name)
        ax2.scatter(seeds, [c.gn_cos for c in checks], color=INIT_COLORS[init], s=22, label=name, zorder=3)
    for ax in (ax1, ax2):
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("seed")
        ax.set_xticks(np.arange(max(len(shared), len(cross))))
        style_axes(ax)
    ax1.set_ylabel(r"cos$(\Delta\theta_T, \Delta\theta_S)$")
    ax1.set_title("does the student step point along the teacher's?")
    ax2.set_ylabel(r"cos$(\Delta\theta_S,\ \varepsilon\, G\, \Delta\theta_T)$")
    ax2.set_ylim(-1.05, 1.1)
    ax2.set_title("is it the Gauss-Newton step?")
    ax1.legend(frameon=False, loc="upper right")
    legend_outside(fig)
    return fig


def plot_epsilon_scaling(shared: Sequence, cross: Sequence):
    """Against the teacher's step size ε: |<Δθ_T, Δθ_S>| (left, with a slope-1 guide) and the
    relative error of the Gauss-Newton prediction for the shared-init student (right)."""
    fig, (ax1, ax2) = figure(1, 2)
    eps_s = np.array([c.teacher_lr for c in shared])
    eps_c = np.array([c.teacher_lr for c in cross])
    inner_s = np.abs([c.inner for c in shared])
    ax1.loglog(eps_s, inner_s, "o-", color=INIT_COLORS["shared"], label="shared init")
    if len(cross):
        ax1.loglog(eps_c, np.abs([c.inner for c in cross]), "s-", color=INIT_COLORS["cross"],
                   label="different init")
    guide = inner_s[0] * eps_s / eps_s[0]
    ax1.loglog(eps_s, guide, ls="--", color="#888888", lw=1, label=r"$\propto \varepsilon$")
    ax1.set_xlabel(r"teacher step size $\varepsilon$")
    ax1.set_ylabel(r"$|\langle \Delta\theta_T, \Delta\theta_S \rangle|$")
    ax1.legend(frameon=False)
    ax2.loglog(eps_s, [c.gn_rel_error for c in shared], "o-", color=INIT_COLORS["shared"], label="shared init")
    ax2.set_xlabel(r"teacher step size $\varepsilon$")
    ax2.set_ylabel(r"$\|\Delta\theta_S - \varepsilon G \Delta\theta_T\| \,/\, \|\Delta\theta_S\|$")
    ax2.legend(frameon=False)
    for ax in (ax1, ax2):
        style_axes(ax)
    legend_outside(fig)
    return fig


def plot_trait_loss_change(check):
    """Change of the trait loss after a student step of size α: measured vs first order (left),
    and their ratio (right), on a log grid of α."""
    fig, (ax1, ax2) = figure(1, 2, height=3.9)
    lrs = np.asarray(check.student_lrs)
    actual, predicted = np.asarray(check.actual_change), np.asarray(check.predicted_change)
    c = INIT_COLORS.get(check.init, "#333333")
    ax1.loglog(lrs, np.abs(predicted), "-", color="#444444", lw=1.5,
               label=r"first order: $-\alpha\langle\Delta\theta_T,\Delta\theta_S\rangle$")
    down = actual < 0
    ax1.loglog(lrs[down], -actual[down], "o", color=c, label="measured (loss falls)")
    if (~down).any():
        ax1.loglog(lrs[~down], np.maximum(actual[~down], 1e-12), "x", color="#D55E00", ms=8, mew=2,
                   label="measured (loss rises)")
    ax1.set_xlabel(r"student learning rate $\alpha$")
    ax1.set_ylabel(r"$|L_T(\theta_0 + \alpha\Delta\theta_S) - L_T(\theta_0)|$ (nats)")
    ax1.legend(frameon=False, loc="upper left")
    ax2.semilogx(lrs, actual / predicted, "o-", color=c)
    ax2.axhline(1, color="#444444", lw=1, ls="--")
    ax2.axhline(0, color="black", lw=0.6)
    ax2.set_xlabel(r"student learning rate $\alpha$")
    ax2.set_ylabel("measured / first order")
    for ax in (ax1, ax2):
        style_axes(ax)
    legend_outside(fig)
    return fig


__all__ = [
    "plot_single_step_seeds", "plot_epsilon_scaling", "plot_trait_loss_change",
]
