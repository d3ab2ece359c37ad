"""The code the scripted model writes for its keyword recipes.

Each recipe is ordinary pandas/matplotlib code against ``/mnt/data``, written the way a model
would write it, so the sandbox runs it exactly like user-supplied code.
"""

from __future__ import annotations

_LOAD_NEWEST_TABLE = """\
import glob
import os

import pandas as pd

tables = [p for p in glob.glob("/mnt/data/*") if p.lower().endswith((".csv", ".xlsx"))]
if not tables:
    raise FileNotFoundError("There is no .csv or .xlsx file in /mnt/data to work with.")
path = max(tables, key=lambda p: (os.path.getmtime(p), p))
df = pd.read_excel(path) if path.lower().endswith(".xlsx") else pd.read_csv(path)
name = os.path.basename(path)
"""

_PLOT = """\
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

wanted = {wanted!r}
numeric = [c for c in df.select_dtypes("number").columns]
chosen = [c for c in numeric if str(c).lower() in wanted] or numeric
if not chosen:
    raise ValueError(f"{{name}} has no numeric columns to plot.")
x_names = ("month", "date", "day", "week", "quarter", "year", "period", "time")
x = next((c for c in df.columns if str(c).lower() in x_names), None)
data = df.groupby(x, sort=True)[chosen].sum() if x is not None else df[chosen]
ax = data.plot(figsize=(8, 4.5), marker="o", title=f"{{', '.join(map(str, chosen))}} from {{name}}")
ax.set_xlabel(str(x) if x is not None else "row")
ax.grid(True, alpha=0.3)
plt.tight_layout()
out = f"/mnt/data/{{os.path.splitext(name)[0]}}_chart.png"
plt.savefig(out, dpi=100)
plt.close("all")
print(f"Plotted {{', '.join(map(str, chosen))}} by {{x or 'row'}} from {{name}} ({{len(data)}} points).")
"""

_DESCRIBE = """\
print(f"{name}: {len(df)} rows x {len(df.columns)} columns")
print(df.describe())
"""

_LIST_FILES = """\
import os

for entry in sorted(os.listdir("/mnt/data")):
    full = os.path.join("/mnt/data", entry)
    if os.path.isfile(full):
        print(f"{entry}\\t{os.path.getsize(full)} bytes")
"""


def plot(words: set[str]) -> str:
    """Chart the newest table's numeric columns (those named in ``words`` if any) to a PNG."""
    return _LOAD_NEWEST_TABLE + "\n" + _PLOT.format(wanted=sorted(words))


def describe() -> str:
    """Summary statistics of the newest table."""
    return _LOAD_NEWEST_TABLE + "\n" + _DESCRIBE


def list_files() -> str:
    """What is in /mnt/data, with sizes."""
    return _LIST_FILES
