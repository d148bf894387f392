"""Labels as data (results.labels): one type makes and reads them; tables carry name and round."""

from __future__ import annotations

import pytest

from results.labels import Label, check_condition_name, nominal_density, with_labels
from train.conditions import CONDITIONS, label, register

DENSITIES = {r: nominal_density(0.2, r) for r in range(11)}


@pytest.mark.parametrize("name", sorted(CONDITIONS))
@pytest.mark.parametrize("round", [6, 10])
def test_every_condition_label_reads_back(name, round):
    text = label(name, round, DENSITIES[round])
    expected = Label(name, round if CONDITIONS[name].uses_ticket else 0)
    assert Label.parse(text, DENSITIES) == expected


def test_text_form():
    assert Label("full").text(1.0) == "full"
    assert Label("reinit", 6).text(0.2621) == "reinit-26"
    assert Label("reinit", 1).text(0.26) == "reinit-26"  # 0.26 * 100 = 25.999...: floor of the percentage
    assert Label.split("dense-dn") == ("dense-dn", None)
    assert Label.split("dense-dn-10") == ("dense-dn", 10)
    assert Label.named("keep-sign", "10") == "keep-sign-10"


def test_a_percentage_of_no_round_is_refused():
    with pytest.raises(ValueError, match="no ticket round"):
        Label.parse("reinit-27", DENSITIES)


def test_a_condition_name_that_would_not_read_back_is_refused():
    with pytest.raises(ValueError, match="must not be empty or end in -<digits>"):
        register("conv-2")
    assert check_condition_name("keep-sign") == "keep-sign"


def test_old_tables_are_read_as_if_they_had_the_columns():
    experiments = [{"model": "fc1", "dataset": "mnist", "prune_rate": 0.2, "prune_rounds": 10}]
    rows = [{"experiment": "fc1-mnist", "condition": "keep-sign-10", "reference": "pruned-10"},
            {"experiment": "fc1-mnist", "condition": "full", "round": 0, "reference": ""}]
    with_labels(rows, experiments, reference=True)
    assert (rows[0]["condition_name"], rows[0]["round"], rows[0]["reference_name"]) == ("keep-sign", 10, "pruned")
    assert (rows[1]["condition_name"], rows[1]["round"]) == ("full", 0)
