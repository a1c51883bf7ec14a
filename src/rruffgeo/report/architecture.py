"""Figure 6: the ConvNeXt1D block diagram, read from the network the settings build.

Nothing in the drawing is typed in by hand: the network is built from ``settings.model`` and
``settings.spectra.grid_points`` exactly as training builds it, one dummy spectrum is passed
through it, and every box reports what that network holds (layer kinds, kernel sizes, strides,
channels, positions, parameter counts, the head). Left: the whole network, stem to head; right:
one block (paper eq. 5), with the expansion ratio and kernel size of the built block.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from rruffgeo.config import Settings, to_dict
from rruffgeo.report import style
from rruffgeo.workdir import WorkDir

STAGE_COLORS = ("#dbe7f5", "#fde5cf", "#dcefd9", "#f3dbe3", "#e6e0f3", "#f6f1d1")


@dataclass(frozen=True)
class Box:
    """One box of the diagram: a title line, a detail line, a fill colour."""

    title: str
    detail: str
    color: str = "#eeeeee"


def _params(module: torch.nn.Module) -> str:
    n = sum(p.numel() for p in module.parameters())
    return f"{n / 1e6:.2f} M params" if n >= 1e6 else f"{n / 1e3:.1f} k params"


def describe_network(settings: Settings, n_classes: int | None = None) -> list[Box]:
    """Boxes from input to logits for the network ``settings`` builds (``n_classes`` outputs,
    shown as K when unknown)."""
    from rruffgeo.network.modelio import build_network  # the report draws what training builds

    length = settings.spectra.grid_points
    net = build_network(n_classes or 2, settings.network, length).eval()
    shapes: list[tuple[int, int]] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
             for m in (*net.downsample_layers, *net.stages)]
    with torch.no_grad():
        net(torch.zeros(1, 1, length))
    for h in hooks:
        h.remove()
    boxes = [Box("input spectrum", f"1 channel x {length:,} grid points")]
    if net.input_pool > 1:  # the network's own, coarser grid; the library keeps the full one
        boxes.append(Box(f"average pool k{net.input_pool} s{net.input_pool}",
                         f"-> 1 channel x {length // net.input_pool:,} points (the network's "
                         "grid)"))
    for i, (down, stage) in enumerate(zip(net.downsample_layers, net.stages, strict=True)):
        (pos, ch), (_, out_ch) = shapes[2 * i], shapes[2 * i + 1]  # in execution order
        conv = down[0] if i == 0 else down[1]
        k, s = conv.kernel_size[0], conv.stride[0]
        kind = "stem: Conv1d" if i == 0 else "downsample: LayerNorm + Conv1d"
        tail = " + LayerNorm" if i == 0 else ""
        boxes.append(Box(f"{kind} k{k} s{s}{tail}", f"-> {ch} channels x {pos:,} positions, "
                         f"{_params(down)}"))
        boxes.append(Box(f"stage {i + 1}: {len(stage)} x ConvNeXt1D block",
                         f"{out_ch} channels x {pos:,} positions, {_params(stage)}",
                         STAGE_COLORS[i % len(STAGE_COLORS)]))
    k = str(n_classes) if n_classes else "K"
    pool = ("global average pool -> LayerNorm" if net.head_pool == "avg" else
            f"LayerNorm at each of {net.positions} positions -> flatten")
    boxes.append(Box(f"head ({net.head_pool}): {pool}",
                     f"dropout {net.head_drop.p:g} -> Linear {net.head.in_features:,} -> {k} "
                     f"countries, {_params(net.head)}; total {_params(net)}", "#eeeeee"))
    return boxes


def describe_block(settings: Settings) -> list[Box]:
    """The inside of the first block of the built network, top to bottom."""
    from rruffgeo.network.modelio import build_network

    net = build_network(2, settings.network, settings.spectra.grid_points)
    block = net.stages[0][0]
    c, hidden = block.pwconv1.in_features, block.pwconv1.out_features
    k, pad = block.dwconv.kernel_size[0], block.dwconv.padding[0]
    rates = [b.drop_path for stage in net.stages for b in stage]
    return [
        Box("input x", "C channels (C = " + ", ".join(str(d) for d in settings.model.dims) + ")"),
        Box(f"depthwise Conv1d k{k}, padding {pad}", "C -> C, one filter per channel"),
        Box("LayerNorm", "over channels, at each position"),
        Box("pointwise conv 1 (Linear)", f"C -> {hidden // c}C"),
        Box("GELU", ""),
        Box("pointwise conv 2 (Linear)", f"{hidden // c}C -> C"),
        Box("layer scale gamma",
            f"per channel, initialised to {settings.model.layer_scale_init:g}"),
        Box("DropPath", f"rate {min(rates):g} to {max(rates):g}, rising with depth"),
        Box("+ x (residual)", ""),
    ]


def _draw_column(ax: Axes, boxes: list[Box], title: str, residual: bool = False) -> None:
    n = len(boxes)
    right = 0.84 if residual else 0.96  # room for the residual path on the right
    mid = (0.04 + right) / 2
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, n - 0.3)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    for i, box in enumerate(boxes):
        y = n - 1 - i
        ax.add_patch(FancyBboxPatch((0.04, y - 0.36), right - 0.04, 0.72, color=box.color,
                                    ec="#555555", lw=0.7,
                                    boxstyle="round,pad=0.0,rounding_size=0.06"))
        ax.text(mid, y + (0.13 if box.detail else 0), box.title, ha="center", va="center",
                fontsize=8.5, weight="bold")
        if box.detail:
            ax.text(mid, y - 0.17, box.detail, ha="center", va="center", fontsize=7.5)
        if i:
            ax.add_patch(FancyArrowPatch((mid, y + 0.64), (mid, y + 0.36), arrowstyle="-|>",
                                         mutation_scale=8, color="#333333", lw=0.8))
    if residual:  # from the block's input around every layer to the sum
        ax.plot([right, 0.93, 0.93], [n - 1, n - 1, 0], color="#c44e52", lw=1)
        ax.add_patch(FancyArrowPatch((0.93, 0), (right, 0), arrowstyle="-|>", mutation_scale=9,
                                     color="#c44e52", lw=1))


def trained_class_count(workdir: WorkDir, settings: Settings) -> int | None:
    """Classes of a trained model in ``workdir/models`` built with these settings, else the
    countries of the learning table (what training will see), else None."""
    want = json.loads(json.dumps(to_dict(settings.network)))
    for meta_path in workdir.model_metas():
        try:
            meta = json.loads(meta_path.read_text())
            if (meta["settings"]["model"] == want
                    and meta["grid_cm1"]["points"] == settings.spectra.grid_points):
                return len(meta["classes"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    try:
        from rruffgeo.network import learning_table  # lazy: the learning stage is optional here

        return int(learning_table(workdir, settings)["country_iso3"].nunique()) or None
    except (ImportError, OSError, ValueError, KeyError):
        return None


def fig_architecture(settings: Settings, out_base: Path, n_classes: int | None = None
                     ) -> list[Path]:
    """Figure 6: the network as configured (left) and its block (right)."""
    net_boxes, block_boxes = describe_network(settings, n_classes), describe_block(settings)
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(11, 0.62 * len(net_boxes) + 1.2), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=(1.35, 1))
        _draw_column(left, net_boxes, "ConvNeXt1D as configured")
        _draw_column(right, block_boxes, "ConvNeXt1D block (red: residual connection)",
                     residual=True)
        depths = ", ".join(str(d) for d in settings.model.depths)
        fig.suptitle(f"ConvNeXt1D: depths ({depths}), head '{settings.model.head_pool}'")
        return style.save_figure(fig, out_base)


__all__ = ["Box", "describe_block", "describe_network", "fig_architecture",
           "trained_class_count"]
