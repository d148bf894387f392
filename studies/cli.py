"""`dn bench`: the studies' side of the command line."""

from __future__ import annotations

from pathlib import Path

import typer

NETWORKS = "fc1,lenet5,conv2,conv4,conv6"


def bench(
    json_: bool = typer.Option(False, "--json", help="print one JSON object"),
    data_dir: Path | None = typer.Option(None, help="datasets folder (MNIST and CIFAR-10)"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    models: int = typer.Option(8, help="models in the stack"),
    repeats: int = typer.Option(3, help="timed repeats (best is kept)"),
    steps: int = typer.Option(8, help="minibatch steps timed per way and repeat; the time is scaled per "
                                      "sample to a full epoch (fewer steps: a shorter, noisier run)"),
    warmup: int = typer.Option(2, help="untimed minibatch steps before the timed ones"),
    batch_size: int | None = typer.Option(None, help="minibatch size for every network "
                                                     "(default: each network's own, 1024 for FC-1 and LeNet5, 60 for Conv-2/4/6)"),
    networks: str = typer.Option(NETWORKS, help="networks to time, NET or NET=DATASET, comma-separated"),
    synthetic: bool = typer.Option(False, help="random images of each dataset's shape and size instead of its "
                                               "files (the times do not depend on the pixels)"),
    profile: str | None = typer.Option(None, help="instead of the table: where NET's (NET or NET=DATASET) "
                                                  "model-epoch goes, per phase and layer, against its FLOPs"),
    generic: bool = typer.Option(False, help="with --profile fc1 or lenet5: profile the generic path "
                                             "(GenericNet of the textbook module), not the hand-written one"),
) -> None:
    """Time the stacked engine (hand-written and generic paths) against one model at a time, a
    DataLoader loop and the FLOP bound; or, with --profile, split one network's step."""
    from results.errors import DnError
    from studies.bench_data import parse_networks

    common = dict(data_dir=data_dir, device=device, models=models, repeats=repeats, steps=steps,
                  warmup=warmup, batch_size=batch_size, synthetic=synthetic)
    if generic and profile is None:
        raise DnError("--generic goes with --profile (the table always has the generic rows)")
    if profile is not None:
        from studies.bench_profile import run_profile

        chosen = parse_networks(profile)
        if len(chosen) != 1:
            raise DnError(f"--profile takes one network (NET or NET=DATASET), got {profile!r}")
        ((model, dataset),) = chosen.items()
        run_profile(model, json_out=json_, dataset=dataset, generic=generic, **common)
        return
    from studies.bench import run_bench

    run_bench(json_out=json_, datasets=parse_networks(networks), **common)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
