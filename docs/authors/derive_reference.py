#!/usr/bin/env python3
"""Derive dn's reference tables from the paper authors' published raw outputs.

Source: github.com/dmanikt/lottery-ticket-distributions, directory `outputs/`, complete (5 trials of
both experiments) from commit 1b92ed8 ("cifar 10 trials 2-5") on; HEAD has the same files. Only
the authors' *outputs* are read here, none of their code is used.

    python docs/authors/derive_reference.py SOURCE [--commit 1b92ed8] [--out-dir reports]

SOURCE is either a clone with a work tree (it has `outputs/`; --commit is then ignored) or a git
directory without one (a bare clone or mirror); files are then read with
`git --git-dir SOURCE show COMMIT:PATH`.

Writes (defaults to <dn repo>/studies/):

  authors_reference.csv  experiment,condition,epoch,n_trials,test_acc_{mean,min,max},
                         test_loss_{mean,min,max},train_loss_{mean,min,max}
                         one row per epoch in their files (epoch 0 = before training);
                         test_acc as a fraction (their files hold percent).
  authors_theta_lt.csv   experiment,round,n_values,prob,quantile: 2001 quantiles
                         (numpy's default linear interpolation, probabilities linspace(0,1,2001))
                         of the nonzero weights at epoch 0 of the pruned (lottery ticket) run,
                         i.e. theta_LT = nonzero(m * theta_0), pooled over the 5 trials.

Their metric files, as the code that wrote them computes them (experiment_run.py/util_functions.py
at 8e10702; outputs were run with batch size 1024):
  *_test_acc.txt    100 * correct / 10000, where only the first 9216 test images are evaluated
                    (test loader drop_last=True), so the ceiling is 0.9216.
  *_test_loss.txt   summed cross-entropy over those 9216 images / 10000.
  *_train_loss.txt  summed cross-entropy of an eval pass over all training images / N_train,
                    after each epoch.
These numbers are copied as they are (no rescaling), so they compare with the paper's tables.

Plain numpy; not imported by the dn package.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np

EXPERIMENTS = {"fc1-mnist": "outputs/mnist/fc1", "lenet5-cifar10": "outputs/cifar10/LeNet5"}
# dn label -> their file prefix (experiment_run.py main(): '0_full_Dinit', then for n in (6, 10):
# '{n}_pruned_Dinit' (theta_0 at mask_n), '{n}_pruned_Dn' (mask_n, weights sampled from D_n),
# '{n}_randompruned_Dn' (per-layer permuted mask_n, weights sampled from D_n)).
CONDITIONS = {
    "full": "0_full_Dinit",
    "pruned-26": "6_pruned_Dinit", "reinit-26": "6_pruned_Dn", "remask-26": "6_randompruned_Dn",
    "pruned-10": "10_pruned_Dinit", "reinit-10": "10_pruned_Dn", "remask-10": "10_randompruned_Dn",
}
ROUNDS = (6, 10)
TRIALS = (1, 2, 3, 4, 5)
N_QUANTILES = 2001
# The paper's Figure 1 (FC-1) and Figure 3 (LeNet5) tables: max avg test acc, its epoch,
# min avg train loss, its epoch, as printed (REINIT-26% FC-1 loss reads "2.395-3" in the paper).
PAPER = {
    "fc1-mnist": {
        "full": (".9068", 96, "0.656E-3", 95), "pruned-26": (".9055", 91, "1.707E-3", 91),
        "pruned-10": (".9043", 75, "3.915E-3", 96), "reinit-26": (".9045", 100, "2.395E-3", 100),
        "reinit-10": (".9036", 67, "4.471E-3", 100), "remask-26": (".9028", 95, "2.964E-3", 96),
        "remask-10": (".8983", 100, "10.04E-3", 100)},
    "lenet5-cifar10": {
        "full": (".5861", 89, ".2341", 300), "pruned-26": (".5689", 298, ".8001", 298),
        "pruned-10": (".5218", 300, "1.121", 297), "reinit-26": (".5499", 292, ".8902", 300),
        "reinit-10": (".5167", 300, "1.156", 299), "remask-26": (".5478", 269, ".8884", 298),
        "remask-10": (".5089", 291, "1.183", 298)},
}


class Source:
    """Reads text files of their repository from a work tree or from a git directory."""

    def __init__(self, path: Path, commit: str):
        self.path = path
        self.commit = commit
        self.worktree = (path / "outputs").is_dir()

    def text(self, rel: str) -> str:
        if self.worktree:
            return (self.path / rel).read_text()
        out = subprocess.run(["git", "--git-dir", str(self.path), "show", f"{self.commit}:{rel}"],
                             capture_output=True, check=False)
        if out.returncode != 0:
            raise SystemExit(f"cannot read {self.commit}:{rel}: {out.stderr.decode().strip()}")
        return out.stdout.decode()

    def array(self, rel: str) -> np.ndarray:
        return np.loadtxt(io.StringIO(self.text(rel)), dtype=np.float64, ndmin=1)


def reference_rows(src: Source) -> list[str]:
    rows = []
    for exp, base in EXPERIMENTS.items():
        for cond, prefix in CONDITIONS.items():
            metric = {}
            for name in ("test_acc", "test_loss", "train_loss"):
                per_trial = [src.array(f"{base}/trial_{t}/{prefix}_{name}.txt") for t in TRIALS]
                if len({len(a) for a in per_trial}) != 1:
                    raise SystemExit(f"{exp} {cond} {name}: trials differ in length")
                m = np.vstack(per_trial)
                metric[name] = m / 100.0 if name == "test_acc" else m
            for epoch in range(metric["test_acc"].shape[1]):
                vals = []
                for name in ("test_acc", "test_loss", "train_loss"):
                    col = metric[name][:, epoch]
                    vals += [col.mean(), col.min(), col.max()]
                rows.append(f"{exp},{cond},{epoch},{len(TRIALS)}," + ",".join(f"{v:.8g}" for v in vals))
            check_paper(exp, cond, metric)
    return rows


def check_paper(exp: str, cond: str, metric: dict) -> None:
    acc = metric["test_acc"].mean(axis=0)
    loss = metric["train_loss"].mean(axis=0)
    got = (acc.max(), int(acc.argmax()), loss.min(), int(loss.argmin()))
    acc_s, acc_ep, loss_s, loss_ep = PAPER[exp][cond]

    def same(value: float, printed: str) -> bool:  # equal at the paper's printed precision
        unit = 10.0 ** Decimal(printed).as_tuple().exponent
        return abs(value - float(printed)) <= unit / 2 + 1e-12

    ok = same(got[0], acc_s) and got[1] == acc_ep and same(got[2], loss_s) and got[3] == loss_ep
    flag = "ok      " if ok else "MISMATCH"
    print(f"{flag} {exp:15s} {cond:10s} max acc {got[0]:.4f} @ {got[1]:3d} (paper {acc_s} @ {acc_ep:3d})"
          f"  min train loss {got[2]:.5g} @ {got[3]:3d} (paper {loss_s} @ {loss_ep:3d})")


def theta_lt_rows(src: Source) -> list[str]:
    probs = np.linspace(0.0, 1.0, N_QUANTILES)
    rows = []
    for exp, base in EXPERIMENTS.items():
        for n in ROUNDS:
            pooled = np.concatenate([src.array(f"{base}/trial_{t}/{n}_pruned_Dinit_dist_0.txt") for t in TRIALS])
            q = np.quantile(pooled, probs)
            rows += [f"{exp},{n},{pooled.size},{p:.4f},{v:.9g}" for p, v in zip(probs, q, strict=True)]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", type=Path, help="their repository: a clone with a work tree, or a git directory")
    ap.add_argument("--commit", default="1b92ed8", help="commit to read when SOURCE has no work tree")
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parents[2] / "studies")
    args = ap.parse_args(argv)
    src = Source(args.source, args.commit)

    header = ("experiment,condition,epoch,n_trials,test_acc_mean,test_acc_min,test_acc_max,"
              "test_loss_mean,test_loss_min,test_loss_max,train_loss_mean,train_loss_min,train_loss_max")
    ref = args.out_dir / "authors_reference.csv"
    ref.write_text("\n".join([header, *reference_rows(src)]) + "\n")
    theta = args.out_dir / "authors_theta_lt.csv"
    theta.write_text("\n".join(["experiment,round,n_values,prob,quantile", *theta_lt_rows(src)]) + "\n")
    for p in (ref, theta):
        print(f"wrote {p} ({p.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
