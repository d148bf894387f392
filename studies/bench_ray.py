"""`python -m studies.bench_ray`: what Ray costs on a smoke run, in one command.

Times the same smoke run (fc1-digits, seed 0) with `--executor local` on 1 thread and with
`--executor ray` on a local cluster of 2 workers of 1 thread each, checks that both wrote the
same bytes, and reports Ray's overhead per task: (ray wall - local wall) / tasks, so that the
cost of shipping inputs and results is visible next to what two workers gain. The cluster's
start-up is timed apart, and so is the round trip of an empty task.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import torch

from train.config import RunConfig, preset_experiment
from train.ray_executor import RaySettings, connected
from train.runner import train_run


def _digest(folder: Path) -> str:
    files = sorted([*folder.glob("*.csv"), *folder.glob("*/tickets/*.npz"), *folder.glob("*/done/*.json")])
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _noop() -> int:
    return 0


def bench(experiment: str = "fc1-digits", workers: int = 2) -> dict:
    """Wall times of one smoke run under each executor, and Ray's overhead per task."""
    cfg = RunConfig((preset_experiment("smoke", experiment),), seed=0, preset="smoke")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="dn-bench-ray-") as tmp:
        t0 = time.perf_counter()
        train_run(cfg, Path(tmp) / "local", device="cpu", progress=False)
        local_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with connected(RaySettings(task_cpus=1, local_cpus=workers)) as ray:
            start_s = time.perf_counter() - t0
            noop = ray.remote(_noop).options(num_cpus=1)
            ray.get([noop.remote() for _ in range(4)])  # warm the workers
            t0 = time.perf_counter()
            ray.get([noop.remote() for _ in range(20)])
            noop_ms = (time.perf_counter() - t0) / 20 * 1000
            t0 = time.perf_counter()
            out = train_run(cfg, Path(tmp) / "ray", device="cpu", progress=False, executor="ray",
                            ray=RaySettings(task_cpus=1))
            ray_s = time.perf_counter() - t0
        tasks = len(list((out / experiment / "done").glob("*.json")))
        same = _digest(Path(tmp) / "local") == _digest(out)
    return {"experiment": experiment, "workers": workers, "tasks": tasks, "local_s": round(local_s, 2),
            "ray_s": round(ray_s, 2), "ray_start_s": round(start_s, 2), "noop_task_ms": round(noop_ms, 1),
            "overhead_per_task_s": round((ray_s - local_s) / tasks, 2), "same_bytes": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="fc1-digits")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    r = bench(args.experiment, args.workers)
    if args.json:
        print(json.dumps(r))
        return
    print(f"smoke {r['experiment']}: local (1 thread) {r['local_s']:.2f} s; ray ({r['workers']} workers x 1 "
          f"thread, {r['tasks']} tasks) {r['ray_s']:.2f} s, +{r['ray_start_s']:.1f} s cluster start; "
          f"overhead {r['overhead_per_task_s']:+.2f} s per task; empty task {r['noop_task_ms']:.1f} ms; "
          f"same bytes: {'yes' if r['same_bytes'] else 'NO'}")


if __name__ == "__main__":
    main()
