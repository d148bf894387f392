"""The sign experiment is three ordinary runs differing only in the input normalization."""

from __future__ import annotations

import torch

from dn_data import load_dataset
from studies.sign_experiment import VARIANTS, train_variants
from studies.sign_variants import markdown, summarize
from train import open_run


def test_centered_normalizations_center_every_input_and_every_image():
    pixel = load_dataset("digits", normalization="pixel-centered").x_train
    double = load_dataset("digits", normalization="double-centered").x_train
    flat = pixel.reshape(pixel.shape[0], -1)
    # float32 means of values of order 1 over ~1000 images: a few eps of rounding
    assert flat.mean(dim=0).abs().max() < 1e-5
    assert double.reshape(double.shape[0], -1).mean(dim=1).abs().max() < 1e-5
    plain = load_dataset("digits").x_train
    assert not torch.allclose(plain, pixel)


def test_three_runs_share_theta0_and_give_the_table(tmp_path):
    folders = train_variants(tmp_path, None, None, trials=2, rounds=2, epochs=1, experiment="fc1-digits",
                             preset="smoke", progress=False)
    assert [f.name for f in folders] == list(VARIANTS)
    exps = [open_run(f).experiment("fc1-digits") for f in folders]
    for e in exps[1:]:
        assert (e.theta0(1)["fc1.weight"] == exps[0].theta0(1)["fc1.weight"]).all()
    assert any((e.mask(1, 2)["fc1.weight"] != exps[0].mask(1, 2)["fc1.weight"]).any() for e in exps[1:])
    table = markdown(summarize(tmp_path))
    assert table.count("\n| ") == 4 and "pixel-centered" in table  # header + 3 variants


def test_the_table_script_explains_a_wrong_folder_in_one_line(tmp_path, capsys):
    from studies.sign_variants import main

    for folder in (tmp_path / "missing", tmp_path):  # not there; there but empty
        assert main([str(folder)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and "sign_experiment" in err[0], err
