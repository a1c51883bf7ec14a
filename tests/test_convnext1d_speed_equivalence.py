"""The fast ConvNeXt1D computes the reference's function: same weights, same outputs and gradients.

Weights are perturbed away from the initialisation (and layer scale set large) so that every
residual branch, LayerNorm affine and bias contributes visibly; otherwise the 1e-6 layer scale
would hide most differences.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reference_convnext1d import ReferenceConvNeXt1D
from rruffgeo.network.convnext1d import ConvNeXt1D

RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread keeps these quick on the shared, loaded 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pair(**kw) -> tuple[ReferenceConvNeXt1D, ConvNeXt1D]:
    torch.manual_seed(0)
    ref = ReferenceConvNeXt1D(**kw)
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if name.endswith("gamma"):
                p.fill_(0.5)
            else:
                p.add_(0.05 * torch.randn_like(p))
    fast = ConvNeXt1D(**kw)
    fast.load_state_dict(ref.state_dict())
    return ref, fast


def _assert_same_outputs_and_grads(ref, fast, x, y) -> None:
    out_ref, out_fast = ref(x), fast(x)
    torch.testing.assert_close(out_fast, out_ref, rtol=RTOL, atol=ATOL)
    F.cross_entropy(out_ref, y).backward()
    F.cross_entropy(out_fast, y).backward()
    grads_fast = dict(fast.named_parameters())
    for name, p in ref.named_parameters():
        g_ref, g_fast = p.grad, grads_fast[name].grad
        scale = g_ref.abs().max().clamp_min(1e-12)
        torch.testing.assert_close(g_fast / scale, g_ref / scale, rtol=RTOL, atol=ATOL,
                                   msg=lambda m, name=name: f"gradient of {name}: {m}")


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_paper_network_same_outputs_and_gradients(mode):
    ref, fast = _pair(num_classes=11)
    getattr(ref, mode)()
    getattr(fast, mode)()
    x = torch.randn(4, 1, 2048)
    y = torch.randint(0, 11, (4,))
    _assert_same_outputs_and_grads(ref, fast, x, y)


@pytest.mark.parametrize("length", [1001, 333])
def test_lengths_not_divisible_by_the_strides(length):
    """Ragged ends are dropped by the stride-4 stem and stride-2 downsampling exactly as Conv1d."""
    ref, fast = _pair(num_classes=3, depths=(1, 1, 2), dims=(8, 16, 24))
    ref.train()
    fast.train()
    x = torch.randn(3, 1, length)
    y = torch.tensor([0, 1, 2])
    _assert_same_outputs_and_grads(ref, fast, x, y)


def test_several_input_channels_and_a_batch_of_one():
    ref, fast = _pair(num_classes=5, in_chans=2, depths=(1, 1), dims=(8, 16))
    ref.eval()
    fast.eval()
    x = torch.randn(1, 2, 128)
    torch.testing.assert_close(fast(x), ref(x), rtol=RTOL, atol=ATOL)
    pooled = fast.forward_head(fast.forward_features(x), pre_logits=True)
    torch.testing.assert_close(pooled, ref.forward_features(x), rtol=RTOL, atol=ATOL)


def test_drop_path_and_dropout_draw_the_same_random_numbers():
    """With stochastic depth and head dropout on, the same seed gives the same training output."""
    ref, fast = _pair(num_classes=7, depths=(2, 2), dims=(16, 32), drop_path_rate=0.5,
                      head_dropout=0.3)
    ref.train()
    fast.train()
    x = torch.randn(8, 1, 256)
    torch.manual_seed(123)
    out_ref = ref(x)
    torch.manual_seed(123)
    out_fast = fast(x)
    torch.testing.assert_close(out_fast, out_ref, rtol=RTOL, atol=ATOL)
    torch.manual_seed(124)
    assert not torch.allclose(fast(x), out_ref, rtol=RTOL, atol=ATOL)  # randomness is live


def test_state_dicts_load_both_ways():
    torch.manual_seed(1)
    fast = ConvNeXt1D(num_classes=6)
    ref = ReferenceConvNeXt1D(num_classes=6)
    ref.load_state_dict(fast.state_dict())  # strict: same keys and shapes
    fast2 = ConvNeXt1D(num_classes=6)
    fast2.load_state_dict(ref.state_dict())
    x = torch.randn(2, 1, 512)
    fast.eval()
    fast2.eval()
    torch.testing.assert_close(fast2(x), fast(x))


def test_inference_path_matches_the_reference():
    """Without autograd the fast network takes its fused inference kernels: same outputs."""
    ref, fast = _pair(num_classes=4)
    ref.eval()
    fast.eval()
    x = torch.randn(3, 1, 2048)
    expected = ref(x).detach()
    with torch.no_grad():
        torch.testing.assert_close(fast(x), expected, rtol=RTOL, atol=ATOL)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), expected, rtol=RTOL, atol=ATOL)


def test_the_speed_benchmark_runs_and_reports_its_figures(capsys):
    """Smoke run of benchmarks/bench_model.py at toy size (its figures are not checked here)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_model.py"
    spec = importlib.util.spec_from_file_location("bench_model", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--grid", "128", "--batch", "2", "--classes", "3", "--threads", "1",
                       "--repeats", "1", "--train-steps", "1", "--infer-steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "training  spectra/s: reference" in out
    assert "inference spectra/s: reference" in out
    diff = float(out.split("(eval, same weights): ")[1].split()[0])
    assert diff < 1e-4


@pytest.mark.parametrize(("c_out", "k", "stride", "padding", "groups"),
                         [(3, 7, 1, 3, 3), (5, 1, 1, 0, 1), (4, 2, 2, 0, 1)])
def test_channels_last_convolution_gradients_pass_gradcheck(c_out, k, stride, padding, groups):
    """The hand-written backward of the channels-last conv (depthwise, pointwise, strided)."""
    from rruffgeo.network.convnext1d import _ConvCL

    torch.manual_seed(0)
    x = torch.randn(2, 10, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(c_out, 3 // groups, k, dtype=torch.float64, requires_grad=True)
    b = torch.randn(c_out, dtype=torch.float64, requires_grad=True)
    args = (x, w, b, stride, padding, groups)
    assert torch.autograd.gradcheck(_ConvCL.apply, args)
    expected = F.conv1d(x.transpose(1, 2), w, b, stride=stride, padding=padding, groups=groups)
    torch.testing.assert_close(_ConvCL.apply(*args), expected.transpose(1, 2))
