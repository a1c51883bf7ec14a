import torch

from rruffgeo.model.convnext1d import ConvNeXt1D


def test_paper_configuration_parameter_count_and_shapes():
    model = ConvNeXt1D(num_classes=101)
    n_params = sum(p.numel() for p in model.parameters())
    # findings.md section 3: about 1.65 M parameters with 101 classes.
    assert 1_600_000 < n_params < 1_700_000
    out = model(torch.randn(3, 1, 2048))
    assert out.shape == (3, 101)
    assert model.forward_features(torch.randn(2, 1, 2048)).shape == (2, 256)


def test_layer_scale_and_init_follow_the_paper():
    model = ConvNeXt1D(num_classes=5)
    block = model.stages[0][0]
    assert torch.allclose(block.gamma, torch.full_like(block.gamma, 1e-6))
    assert torch.count_nonzero(model.head.bias) == 0
    assert model.head.weight.std().item() < 0.03
