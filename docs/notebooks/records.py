"""A sweep's run records in a notebook: load them with Polars and pandas,
recompute the per-cell means and the paired decomposition (co-adaptation,
specificity, transfer drop, AnB+ - base) with 95% t intervals over units,
check both against the Rust analysis (`report/summary.csv`,
`report/decomposition.csv`), and plot the transfer curve.

    python3 docs/notebooks/records.py runs/sweep [--plot transfer.png]

`records.ipynb` beside this file holds the same code, cell by cell (a test
checks that they agree). Needs polars, pandas, pyarrow, scipy, matplotlib.
"""

# %% Load the records (one Parquet file per network) with Polars
import argparse
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import polars as pl
from scipy import stats

if "ipykernel" in sys.modules:  # in Jupyter: the sweep from the environment
    sweep = Path(os.environ.get("TRANSFERABILITY_SWEEP", "runs/sweep"))
    plot_to = sweep / "report" / "transfer_curve.png"
else:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", nargs="?", default="runs/sweep", type=Path, help="a sweep folder (with records/ and report/)")
    parser.add_argument("--plot", type=Path, help="where to save the transfer curve (PNG)")
    a = parser.parse_args()
    sweep, plot_to = a.sweep, a.plot or a.sweep / "report" / "transfer_curve.png"
runs = pl.read_parquet(sweep / "records" / "runs" / "*.parquet")
ok = runs.filter((pl.col("status") == "ok") & pl.col("top1").is_not_nan())
print(f"{runs.height} networks, {ok.height} usable, schema version {runs['schema_version'].max()}")

# %% Per-cell means (Polars): random halves and the whole set pool their
# targets; a dissimilar split (natman, or yours by class name) keeps them
POOLED = ["random", "whole"]
cells = (
    ok.with_columns(pl.when(pl.col("family").is_in(POOLED)).then(pl.lit("all")).otherwise(pl.col("target_half")).alias("target"))
    .group_by(["family", "arm", "target", "n", "k"])
    .agg(pl.col("top1").mean().alias("mean"), pl.col("top1").std().alias("sd"), pl.len().alias("count"))
    .sort(["family", "arm", "target", "n", "k"])
)
print(cells)

# %% The paired decomposition (pandas): pair each network with the network
# it is defined against on its own target half inside its unit (a random
# split; a fixed split's replicate), average within the unit, t interval
# over units
df = ok.to_pandas()


def unit_values(family, pair, ns):
    """One value per unit: the mean of its pairs over target halves and n.
    A random split's unit is the split (its replicates averaged per cell);
    a fixed split's unit is the replicate."""
    values = []
    keys = ["split"] if family == "random" else ["split", "replicate"]
    for _, unit in df[df.family == family].groupby(keys):
        top1 = unit.groupby(["arm", "target_half", "n"]).top1.mean().to_dict()
        targets = sorted(t for (a, t, n) in top1 if a == "base")
        diffs = [d for t in targets for n in ns if (d := pair(top1, t, n)) is not None]
        if diffs:
            values.append(sum(diffs) / len(diffs))
    return values


def estimate(values):
    k = len(values)
    mean = sum(values) / k
    if k < 2:
        return mean, None, None
    sd = pd.Series(values).std()
    half = stats.t.ppf(0.975, k - 1) * sd / k**0.5
    return mean, mean - half, mean + half


def pair(a, b):
    """`a - b` on target half t at layer n (bases sit at n = 0), if both exist."""

    def at(top1, t, n):
        ka, kb = (a, t, 0 if a == "base" else n), (b, t, 0 if b == "base" else n)
        return top1[ka] - top1[kb] if ka in top1 and kb in top1 else None

    return at


QUANTITIES = {
    "coadaptation": pair("base", "BnB"),
    "specificity": pair("BnB", "AnB"),
    "transfer_drop": pair("AnB", "base"),
    "lasting_boost_vs_base": pair("AnB+", "base"),
}
# each dissimilar split's transfer drop: `<family>_drop` (natman_drop, ...)
for family in sorted(set(df.family) - set(POOLED)):
    QUANTITIES[f"{family}_drop"] = (family, pair("AnB", "base"))
rows = []
for name, quantity in QUANTITIES.items():
    family, quantity = quantity if isinstance(quantity, tuple) else ("random", quantity)
    for n in sorted(n for n in df[df.family == family].n.unique() if n > 0):
        values = unit_values(family, quantity, [n])
        if values:
            mean, lo, hi = estimate(values)
            rows.append(dict(quantity=name, n=int(n), value=mean, ci_low=lo, ci_high=hi, units=len(values)))
decomposition = pd.DataFrame(rows)
print(decomposition.to_string(index=False))

# %% Check both against the Rust analysis
summary_rs = pl.read_csv(sweep / "report" / "summary.csv").filter(pl.col("origin") == "runs")
joined = cells.join(summary_rs, on=["family", "arm", "target", "n"], how="inner", suffix="_rs")
assert joined.height == cells.height, f"{cells.height - joined.height} cells missing from summary.csv"
worst_cell = max(abs(a - b) for a, b in zip(joined["mean"], joined["mean_rs"]))
dec_rs = pd.read_csv(sweep / "report" / "decomposition.csv")
dec_rs = dec_rs[(dec_rs.origin == "runs") & (dec_rs.convention == "paired") & (dec_rs.n_from == dec_rs.n_to)]
worst_dec = 0.0
for r in decomposition.itertuples():
    rs = dec_rs[(dec_rs.quantity == r.quantity) & (dec_rs.n_from == r.n)]
    assert len(rs) == 1, f"{r.quantity} n{r.n}: {len(rs)} rows in decomposition.csv"
    rs = rs.iloc[0]
    assert rs.units == r.units, f"{r.quantity} n{r.n}: {r.units} units, Rust {rs.units}"
    pairs = [(r.value, rs.value)] + ([(r.ci_low, rs.ci_low), (r.ci_high, rs.ci_high)] if r.ci_low is not None and r.ci_low == r.ci_low else [])
    worst_dec = max([worst_dec] + [abs(a - b) for a, b in pairs])
print(f"cells: {joined.height} equal to summary.csv (largest difference {worst_cell:.1e})")
print(f"decomposition: {len(decomposition)} rows equal to decomposition.csv (largest difference {worst_dec:.1e})")
assert worst_cell < 1e-9 and worst_dec < 1e-9, "the notebook and the Rust analysis disagree"

# %% Plot the transfer curve: each arm's mean top-1 by layer n
random = cells.filter(pl.col("family") == "random").to_pandas()
base = random[random.arm == "base"]["mean"].mean()
fig, ax = plt.subplots(figsize=(7, 4))
for arm, style in [("BnB", "o-"), ("BnB+", "o--"), ("AnB", "D-"), ("AnB+", "D--")]:
    line = random[random.arm == arm].sort_values("n")
    if len(line):
        ax.plot([0] + list(line.n), [base] + list(line["mean"]), style, label=arm)
ax.set_xlabel("Layer n at which the network is chopped and retrained")
ax.set_ylabel("Top-1 accuracy")
ax.set_xticks(range(0, 8))
ax.legend()
fig.tight_layout()
plot_to.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(plot_to)
print(f"plot: {plot_to}")
