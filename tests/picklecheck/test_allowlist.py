"""The scanner's copy of torch's weights_only allow-list is the installed torch's own list."""

import torch
from torch._weights_only_unpickler import _get_allowed_globals

from picklecheck.scan import _EXTRA_SAFE, TORCH_ALLOWED_GLOBALS, allowed_globals, is_allowed

REFRESH = (
    '.venv/bin/python -c "import torch; from torch._weights_only_unpickler import '
    "_get_allowed_globals as g; from picklecheck.scan import TORCH_ALLOWED_GLOBALS as f; "
    "head = f.read_text().splitlines()[:2]; "
    "f.write_text('\\n'.join(head + sorted(g())) + '\\n')\""
)


def test_the_copy_equals_the_installed_torch_list():
    copied = allowed_globals() - _EXTRA_SAFE
    installed = frozenset(_get_allowed_globals()) - _EXTRA_SAFE
    assert copied == installed, (
        f"torch {torch.__version__} allows {sorted(installed ^ copied)} differently from "
        f"{TORCH_ALLOWED_GLOBALS.name}; refresh it with: {REFRESH}"
    )


def test_tensor_rebuilding_is_allowed_and_code_is_not():
    assert is_allowed("torch._utils._rebuild_tensor_v2")
    assert is_allowed("collections.OrderedDict")
    assert is_allowed("__torch__.Model")
    assert not is_allowed("os.system")
    assert not is_allowed("builtins.eval")
    assert not is_allowed("subprocess.Popen")
