"""Writes data/anes96.csv: the 1996 American National Election Study as statsmodels ships it
(statsmodels.datasets.anes96, 944 voters), with the vote and two coded columns spelled out as text.

    python examples/own-code/make_csv.py
"""

from pathlib import Path

import statsmodels.api as sm

PARTY = ["strong democrat", "weak democrat", "independent-democrat", "independent", "independent-republican",
         "weak republican", "strong republican"]
EDUCATION = ["grades 1-8", "some high school", "high school", "some college", "college degree", "masters", "phd"]

table = sm.datasets.anes96.load_pandas().data
out = table[["TVnews", "selfLR", "ClinLR", "DoleLR", "age", "income", "logpopul"]].copy()
out.insert(4, "party", [PARTY[int(v)] for v in table.PID])
out.insert(6, "education", [EDUCATION[int(v) - 1] for v in table.educ])
out["vote"] = ["Dole" if v else "Clinton" for v in table.vote]
path = Path(__file__).parent / "data" / "anes96.csv"
path.parent.mkdir(exist_ok=True)
out.to_csv(path, index=False, float_format="%.6g")
print(f"{path}: {len(out)} rows, columns {', '.join(out.columns)}")
