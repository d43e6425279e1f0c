"""What the `nnstudy` program prints besides its results: every warning one line on stderr."""

import subprocess
import sys
import textwrap
import warnings

from nnstudy._text import one_warning_line
from nnstudy.report import ReportWarning

NET = textwrap.dedent('''
    import warnings
    from torch import nn


    class Net(nn.Module):
        def __init__(self, n_inputs, n_outputs):
            super().__init__()
            warnings.warn("the user's own warning,\\nover two lines")
            self.fc = nn.Linear(n_inputs, n_outputs)

        def forward(self, x):
            return self.fc(x)
''')

STUDY = """
[study]
name = "warns"
[data]
name = "moons"
n_samples = 120
[model]
kind = "module"
module = "net.py:Net"
[train]
epochs = 1
"""


def test_nnstudy_warnings_say_only_what_happened():
    line = one_warning_line(ReportWarning("figure x.png skipped: TypeError: bad\nshape"), ReportWarning,
                            "/somewhere/_figures.py", 754, "    warnings.warn(message, category)")
    assert line == "nnstudy: warning: figure x.png skipped: TypeError: bad\\nshape\n"


def test_other_warnings_say_their_kind_and_where():
    line = one_warning_line(UserWarning("Could not infer format"), UserWarning, "/p/pandas/x.py", 361)
    assert line == "nnstudy: warning: UserWarning at /p/pandas/x.py:361: Could not infer format\n"
    assert one_warning_line(DeprecationWarning("x" * 1000), DeprecationWarning, "f.py", 1).count("\n") == 1


def test_the_program_prints_a_users_warning_as_one_line(tmp_path):
    (tmp_path / "net.py").write_text(NET)
    (tmp_path / "warns.toml").write_text(STUDY)
    store = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-W", "default", "-m", "nnstudy", "run", "warns.toml",
                           "--store", str(store)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "warning" in line]
    assert said, done.stderr
    assert all(line.startswith("nnstudy: warning: UserWarning at ") and line.endswith(
        " net.py:9: the user's own warning,\\nover two lines") for line in said), said
    assert not [line for line in done.stderr.splitlines() if line.startswith(" ")], done.stderr


def test_a_library_call_keeps_pythons_own_warning_format():
    assert warnings.formatwarning is not one_warning_line
