from pathlib import Path

from rruffgeo.config import Settings, TrainSettings, fingerprint, from_dict, replace, to_dict


def test_settings_round_trip_through_json_dict():
    s = Settings(train=TrainSettings(epochs=3, split="specimen"))
    back = from_dict(Settings, to_dict(s))
    assert back == s
    assert isinstance(back.geo.cache_path, Path)
    assert back.model.depths == (2, 2, 3, 2)


def test_paper_defaults():
    s = Settings()
    assert (s.train.lr, s.train.weight_decay, s.train.n_folds) == (1e-3, 0.35, 5)
    assert s.model.dims == (32, 64, 128, 256)
    assert s.train.min_samples_per_country == 2


def test_fingerprint_changes_with_settings():
    a = Settings()
    b = replace(a, train=replace(a.train, seed=1))
    assert fingerprint(a) == fingerprint(Settings())
    assert fingerprint(a) != fingerprint(b)


def test_a_setting_added_at_its_old_behaviour_keeps_the_cache_keys_of_earlier_results():
    """``input_pool`` 1 is the network as it was before the setting existed: the key of a
    training made then (settings without the field) still matches; 4 is another result."""
    from rruffgeo.config import ModelSettings, result_fingerprint

    old = ModelSettings(input_pool=1)
    before = {k: v for k, v in to_dict(old).items() if k != "input_pool"}
    assert result_fingerprint(old) == fingerprint(before)
    assert result_fingerprint(ModelSettings(input_pool=4)) != fingerprint(before)
    assert to_dict(old)["input_pool"] == 1  # saved with a model all the same


def test_a_new_default_of_such_a_setting_is_keyed_so_old_results_are_not_taken_for_it():
    """The unkeyed value is the old behaviour, not the default: a default moved away from it
    enters the key, so a result cached before the move is not re-used for the new default."""
    from dataclasses import dataclass

    from rruffgeo.checks import setting
    from rruffgeo.config import result_dict

    @dataclass
    class Moved:
        pool: int = setting(4, unkeyed_value=1)

    assert result_dict(Moved()) == {"pool": 4}
    assert result_dict(Moved(pool=1)) == {}


def test_the_auto_network_pool_leaves_the_network_about_512_points_and_is_keyed_as_resolved():
    """``--network-pool`` 0 (the default) is resolved from the grid by ``Settings.network``:
    the 2,048-point grid trains at 4 (the same key as an explicit 4), a grid too short to
    pool keeps 1, and an explicit value is left as given, whatever the grid."""
    from rruffgeo.config import ModelSettings, Settings, SpectraSettings, result_fingerprint

    def network(points: int, pool: int = 0) -> ModelSettings:
        return Settings(spectra=SpectraSettings(grid_points=points),
                        model=ModelSettings(input_pool=pool)).network

    assert ModelSettings().input_pool == 0
    assert Settings().network.input_pool == 4
    assert result_fingerprint(Settings().network) == result_fingerprint(network(2048, 4))
    assert result_fingerprint(Settings().network) != result_fingerprint(network(2048, 1))
    assert [network(n).input_pool for n in (1024, 256, 64)] == [2, 1, 1]
    assert network(256, 2).input_pool == 2 and network(4096, 1).input_pool == 1
