import pytest
import torch
import torch.nn.functional as F

from reference_convnext1d import ReferenceConvNeXt1D
from rruffgeo.network.convnext1d import ConvNeXt1D


def test_paper_configuration_parameter_count_and_shapes():
    model = ConvNeXt1D(num_classes=101)
    n_params = sum(p.numel() for p in model.parameters())
    # findings.md section 3: about 1.65 M parameters with 101 classes.
    assert 1_600_000 < n_params < 1_700_000
    out = model(torch.randn(3, 1, 2048))
    assert out.shape == (3, 101)
    features = model.forward_features(torch.randn(2, 1, 2048))
    assert features.shape == (2, 64, 256)  # the unpooled map: 2048 / 32 positions
    assert model.forward_head(features, pre_logits=True).shape == (2, 256)


def test_layer_scale_and_init_follow_the_paper():
    model = ConvNeXt1D(num_classes=5)
    block = model.stages[0][0]
    assert torch.allclose(block.gamma, torch.full_like(block.gamma, 1e-6))
    assert torch.count_nonzero(model.head.bias) == 0
    assert model.head.weight.std().item() < 0.03


def test_mismatched_depths_and_dims_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        ConvNeXt1D(num_classes=3, depths=(2, 2), dims=(32, 64, 128))


def test_stage_shapes_and_state_dict_layout_match_the_reference():
    model = ConvNeXt1D(num_classes=4)
    ref = ReferenceConvNeXt1D(num_classes=4)
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()}
    x = torch.randn(2, 1, 2048)
    lengths = []
    for down, stage in zip(model.downsample_layers, model.stages, strict=True):
        x = stage(down(x))
        lengths.append(tuple(x.shape[1:]))
    # channels-last (N, L, C): stem /4, then /2 per stage
    assert lengths == [(512, 32), (256, 64), (128, 128), (64, 256)]


@pytest.fixture
def one_thread():
    """One intra-op thread: on the shared 2-core machine, 2 contended threads are ~20x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _fit(model: ConvNeXt1D, x: torch.Tensor, y: torch.Tensor, steps: int) -> None:
    """Full-batch AdamW (lr 4e-3, no decay) for ``steps`` steps; leaves the model in eval mode."""
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.0)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def test_paper_network_overfits_a_tiny_batch(one_thread):
    torch.manual_seed(0)
    model = ConvNeXt1D(num_classes=4)
    x = torch.randn(16, 1, 256)
    y = torch.arange(16) % 4
    _fit(model, x, y, steps=30)
    with torch.no_grad():
        logits = model(x)
    assert F.cross_entropy(logits, y).item() < 0.01
    assert (logits.argmax(1) == y).all()


def test_flatten_head_keeps_positions_and_checks_its_input_length():
    model = ConvNeXt1D(num_classes=5, head_pool="flatten", input_length=2048)
    features = model.forward_features(torch.randn(2, 1, 2048))
    assert model.forward_head(features, pre_logits=True).shape == (2, 64 * 256)
    assert model(torch.randn(2, 1, 2048)).shape == (2, 5)
    assert model.head.in_features == 64 * 256
    with pytest.raises(ValueError, match="built for spectra of 2048 points, got 1024"):
        model(torch.randn(2, 1, 1024))
    with pytest.raises(ValueError, match="needs input_length"):
        ConvNeXt1D(num_classes=5, head_pool="flatten")
    with pytest.raises(ValueError, match="choose one of avg, flatten"):
        ConvNeXt1D(num_classes=5, head_pool="max")
    with pytest.raises(ValueError, match="too short"):
        ConvNeXt1D(num_classes=5, head_pool="flatten", input_length=16)


def test_input_pool_is_the_network_of_the_averaged_grid():
    """A network with ``input_pool`` N on L points is, weight for weight, the network of L / N
    points given the spectra averaged N:1: its own coarser grid, the spectra's grid kept."""
    torch.manual_seed(0)
    pooled = ConvNeXt1D(5, depths=(1, 1), dims=(8, 16), head_pool="flatten",
                        input_length=256, input_pool=4).eval()
    plain = ConvNeXt1D(5, depths=(1, 1), dims=(8, 16), head_pool="flatten",
                       input_length=64).eval()
    plain.load_state_dict(pooled.state_dict())
    x = torch.randn(3, 1, 256)
    with torch.no_grad():
        torch.testing.assert_close(pooled(x), plain(torch.nn.functional.avg_pool1d(x, 4)),
                                   rtol=0, atol=0)
    assert pooled.head.in_features == plain.head.in_features == (64 // 4 // 2) * 16
    with pytest.raises(ValueError, match="input_pool 0"):
        ConvNeXt1D(5, input_pool=0)


def _peak_position_task(n: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One Gaussian band per spectrum; the class is only where it sits (left or right half)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    centre = torch.where(y == 0, 0.3, 0.7) * length + torch.randint(-8, 9, (n,), generator=g)
    width = 2 + 3 * torch.rand(n, generator=g)
    t = torch.arange(length).float()
    x = torch.exp(-0.5 * ((t[None] - centre[:, None]) / width[:, None]) ** 2)
    return (x + 0.01 * torch.rand(n, length, generator=g)).unsqueeze(1), y


def _accuracy_on_band_position(head_pool: str) -> float:
    torch.manual_seed(0)
    length = 256
    model = ConvNeXt1D(num_classes=2, head_pool=head_pool, input_length=length)
    x, y = _peak_position_task(32, length, seed=1)
    _fit(model, x, y, steps=40)
    x_new, y_new = _peak_position_task(64, length, seed=2)
    with torch.no_grad():
        return (model(x_new).argmax(1) == y_new).float().mean().item()


def test_flatten_head_learns_where_a_band_is_and_the_average_pool_cannot(one_thread):
    # Why the flatten head exists: global average pooling makes the network translation-
    # invariant, so a band at 30 % or 70 % of the axis looks the same to the paper's head.
    assert _accuracy_on_band_position("flatten") >= 0.95
    assert _accuracy_on_band_position("avg") <= 0.75
